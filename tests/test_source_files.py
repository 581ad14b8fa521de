"""Every path a spec names or a repository holds goes through one check before it is opened: a regular file or a
folder, never a FIFO (opening one blocks), a device (/dev/zero reads forever) or a socket; opening never blocks and
sizes are known before reading. `validate` notices whatever `build` would.

The CLI cases run `triton-groups` in a subprocess with a memory limit and a timeout, so that a regression shows as
a failure (killed, or timed out) rather than as a machine out of memory or a test run that never ends.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from triton_models import PYTHON_CONFIG, PYTHON_MODEL, one_model_repository

from components.core.render import MAX_CONFIG_BYTES
from components.core.source_files import NotUsable, check_kind, open_regular, read_file

MEMORY_LIMIT = 2 << 30
COMMAND_TIMEOUT_S = 60
SPEC = """\
name: g
models:
  - name: m
    backend: python
    versions: {{1: {version}}}
    {extra}
    inputs: [{{name: IN, data_type: FP32, dims: [3]}}]
    outputs: [{{name: OUT, data_type: FP32, dims: [3]}}]
"""


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`triton-groups argv` in a subprocess limited to MEMORY_LIMIT bytes; fails the test past COMMAND_TIMEOUT_S."""
    return subprocess.run([sys.executable, "-m", "components.cli", *argv], capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S, preexec_fn=limited, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def spec_with(folder: Path, version: str = "model.py", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(PYTHON_MODEL)
    spec = folder / "group.yaml"
    spec.write_text(SPEC.format(version=version, extra=extra))
    return spec


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def device_link(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def a_socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    return path


def one_line_error(result: subprocess.CompletedProcess[str], *says: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    assert [line for line in result.stderr.splitlines() if all(part in line for part in says)], result.stderr


@pytest.mark.parametrize(("make", "kind"), [
    pytest.param(device_link, "a character device", id="link-to-dev-zero"),
    pytest.param(fifo, "a FIFO (named pipe)", id="fifo"),
    pytest.param(a_socket, "a socket", id="socket"),
])
@pytest.mark.parametrize("command", ["validate", "build"])
def test_a_version_file_that_is_not_a_regular_file_is_refused_at_once(
    make: Callable[[Path], Path], kind: str, command: str, tmp_path: Path
) -> None:
    spec = spec_with(tmp_path / "g", version="weights.bin")
    make(tmp_path / "g" / "weights.bin")
    out = ["--out", str(tmp_path / "out")] if command == "build" else []

    began = time.monotonic()
    result = cli(command, str(spec), *out)

    one_line_error(result, f"{spec}:5: models[m].versions.1: weights.bin is {kind}, not a regular file or a folder")
    assert time.monotonic() - began < 30
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["validate", "build"])
def test_an_execution_env_that_is_a_device_fails_validate_as_it_fails_build(command: str, tmp_path: Path) -> None:
    spec = spec_with(tmp_path / "g", extra="python: {execution_env: env.tar.gz}")
    device_link(tmp_path / "g" / "env.tar.gz")
    out = ["--out", str(tmp_path / "out")] if command == "build" else []

    result = cli(command, str(spec), *out)

    one_line_error(result, f"{spec}:6: models[m].python.execution_env: env.tar.gz is a character device, not a "
                           "regular file; give a regular file")


def test_a_config_that_is_a_fifo_and_smoke_files_that_are_fifos_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "model.py").write_text(PYTHON_MODEL)
    fifo(folder / "config.pbtxt")
    fifo(folder / "in.npy")
    spec = folder / "group.yaml"
    spec.write_text("name: g\nmodels:\n  - name: m\n    config: config.pbtxt\n    versions: {1: model.py}\n"
                    "    smoke:\n      - name: c\n        inputs: {IN: {npy: in.npy}}\n"
                    "        expect: {OUT: {match: shape, shape: [3]}}\n")

    result = cli("validate", str(spec))

    one_line_error(result, f"{spec}:4: models[m].config: config.pbtxt is a FIFO (named pipe), not a regular file")
    one_line_error(result, f"{spec}:8: models[m].smoke[c].inputs.IN.npy: in.npy is a FIFO (named pipe)")


def test_a_spec_that_is_a_fifo_is_refused_by_smoke(tmp_path: Path) -> None:
    spec = fifo(tmp_path / "group.yaml")

    result = cli("smoke", str(spec), "--url", "127.0.0.1:9")

    one_line_error(result, f"{spec}: is a FIFO (named pipe), not a regular file; give the group spec file")


def test_a_config_pbtxt_that_is_a_fifo_in_a_repository_folder_is_refused(tmp_path: Path) -> None:
    repo = one_model_repository(tmp_path)
    (repo / "m" / "config.pbtxt").unlink()
    fifo(repo / "m" / "config.pbtxt")

    result = cli("validate", str(repo))

    one_line_error(result, str(repo / "m" / "config.pbtxt"), "is a FIFO (named pipe), not a regular file, so it "
                   "cannot be served; remove it")


def test_a_config_larger_than_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    repo = one_model_repository(tmp_path)
    with open(repo / "m" / "config.pbtxt", "r+b") as handle:
        handle.truncate(MAX_CONFIG_BYTES + 1)

    result = cli("validate", str(repo))

    one_line_error(result, "m/config.pbtxt", f"config.pbtxt cannot be read (holds {MAX_CONFIG_BYTES + 1:,} bytes, "
                   f"more than the {MAX_CONFIG_BYTES:,} bytes")


def test_check_kind_names_what_a_path_is_without_opening_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    fifo(tmp_path / "pipe")

    assert check_kind(tmp_path / "file").st_size == 1
    assert check_kind(tmp_path, "folder")
    for path, want, reason in [
        (tmp_path / "pipe", "file", "is a FIFO (named pipe), not a regular file"),
        (Path("/dev/null"), "either", "is a character device, not a regular file or a folder"),
        (tmp_path, "file", "is a folder, not a file"),
        (tmp_path / "file", "folder", "is a file, not a folder"),
        (tmp_path / "gone", "file", "does not exist"),
        (tmp_path / "dangling", "file", f"is a broken symbolic link: its target {tmp_path / 'gone'} does not exist"),
        (tmp_path / "file" / "below", "file", "does not exist (a folder on its way is a file)"),
    ]:
        with pytest.raises(NotUsable) as refused:
            check_kind(path, want)  # type: ignore[arg-type]
        assert refused.value.reason == reason


def test_opening_a_path_swapped_for_a_fifo_after_its_check_neither_blocks_nor_reads(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x")
    check_kind(path)
    path.unlink()
    fifo(path)

    began = time.monotonic()
    with pytest.raises(NotUsable, match="is a FIFO"):
        open_regular(path)
    assert time.monotonic() - began < 1


def test_read_file_reads_no_more_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "config.pbtxt"
    path.write_text(PYTHON_CONFIG)

    assert read_file(path, len(PYTHON_CONFIG)) == PYTHON_CONFIG.encode()
    with pytest.raises(NotUsable, match=f"holds {len(PYTHON_CONFIG)} bytes, more than the 10 bytes a config may"):
        read_file(path, 10, "a config")
