"""`triton-groups build` on a terminal: a build running longer than the delay shows its progress (bytes zipped of
the total, rate, time left) on stderr; nothing extra with --json, when output is not a terminal, or for a quick build.

The CLI runs in a pseudo-terminal (`os.openpty`) with the delay lowered through TRITON_GROUPS_PROGRESS_DELAY_S.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

from triton_models import PYTHON_MODEL, one_model_repository

from components.cli import PROGRESS_DELAY_ENV

PROJECT = Path(__file__).resolve().parents[1]
CONFIG = 'name: "m"'
WEIGHTS = 40 * 10**6
TOTAL_MB = f"{(WEIGHTS + len(PYTHON_MODEL.encode()) + len(CONFIG)) / 1e6:.1f}"
"""The bytes to zip (every source file), as rich's DownloadColumn shows them."""


def repository(root: Path, weights: int = WEIGHTS) -> Path:
    return one_model_repository(root, config=CONFIG, files={"1/model.py": PYTHON_MODEL.encode(),
                                                                "1/weights.bin": os.urandom(weights)})


def environment(delay: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "TERM": "xterm-256color"}
    env.pop(PROGRESS_DELAY_ENV, None)
    if delay is not None:
        env[PROGRESS_DELAY_ENV] = delay
    return env


def in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Exit code and everything written to the terminal (stdout and stderr) by `triton-groups ARGS`."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "components.cli", *args], stdin=slave, stdout=slave,
                               stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def plain(text: str) -> str:
    """`text` without terminal escape sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_a_build_past_the_delay_shows_bytes_done_of_the_total_the_rate_and_the_time_left(tmp_path: Path) -> None:
    repo = repository(tmp_path)

    code, shown = in_terminal(["build", str(repo), "--out", str(tmp_path / "out")], environment("0"))

    assert code == 0, shown
    text = plain(shown)
    frames = re.findall(r"zipping \S* (\d+\.\d)/(\d+\.\d) MB (\S+) MB/s left (\d:\d\d:\d\d)", text)
    assert frames, text
    assert {total for _, total, _, _ in frames} == {TOTAL_MB}
    assert frames[-1][0] == TOTAL_MB, "the last frame shows every byte done"
    assert "repository sha256:" in text


def test_json_output_on_a_terminal_shows_no_progress(tmp_path: Path) -> None:
    repo = repository(tmp_path)

    code, shown = in_terminal(["build", str(repo), "--out", str(tmp_path / "out"), "--json"], environment("0"))

    assert code == 0, shown
    assert "zipping" not in shown and "MB/s" not in shown
    assert '"repository_sha256"' in shown


def test_a_build_quicker_than_the_default_delay_shows_no_progress(tmp_path: Path) -> None:
    repo = repository(tmp_path, weights=1000)

    code, shown = in_terminal(["build", str(repo), "--out", str(tmp_path / "out")], environment(None))

    assert code == 0, shown
    assert "zipping" not in shown


def test_output_that_is_not_a_terminal_shows_no_progress(tmp_path: Path) -> None:
    repo = repository(tmp_path)

    done = subprocess.run([sys.executable, "-m", "components.cli", "build", str(repo), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=environment("0"), timeout=120)

    assert done.returncode == 0, done.stderr
    assert "zipping" not in done.stderr + done.stdout and "\x1b[" not in done.stderr + done.stdout
    assert done.stdout.splitlines()[-1].startswith("repository sha256:")
