"""Every mistake a user can make with `triton-groups` ends in one clear line on stderr naming the file, field or
option and what to do, with exit code 1 (2 for bad command-line usage), and never a traceback.

The table runs `components.cli.main` in this process; a few cases run the installed command for the real exit
code. A bug, unlike a mistake, shows its traceback and says how to report it (exit 70); see the cli docstring.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from processes import processes_using
from triton_models import PYTHON_CONFIG, PYTHON_MODEL, one_model_repository

from components import cli
from components.cli import main
from components.core.runtime import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vision"
COMMAND = Path(sys.executable).parent / "triton-groups"
ONNX_CONFIG = """\
name: "m"
platform: "onnxruntime_onnx"
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
"""
SLOW_LOADING_MODEL = (
    "import time\n\n\nclass TritonPythonModel:\n    def initialize(self, args):\n        time.sleep(30)\n"
)
"""A model still loading when the test presses Ctrl-C, however loaded the machine is."""


@dataclass(frozen=True)
class Mistake:
    """A command line made from files set up in a folder, and the name its error line must mention."""

    argv: list[str]
    names: str


def vision(root: Path) -> Path:
    """An editable copy of the example group; returns its spec."""
    shutil.copytree(EXAMPLE, root / "vision", ignore=shutil.ignore_patterns("__pycache__"))
    return root / "vision" / "group.yaml"


def spec_file(root: Path, text: str | bytes) -> Path:
    path = root / "group.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def a_file(root: Path) -> Path:
    path = root / "notes.txt"
    path.write_text("my notes\n")
    return path


def missing_path(root: Path) -> Mistake:
    return Mistake(["validate", str(root / "nope.yaml")], str(root / "nope.yaml"))


def empty_folder(root: Path) -> Mistake:
    (root / "empty").mkdir()
    return Mistake(["validate", str(root / "empty")], str((root / "empty").resolve()))


def folder_of_a_spec(root: Path) -> Mistake:
    folder = vision(root).parent
    return Mistake(["build", str(folder), "--out", str(root / "out")], str(folder.resolve()))


def yaml_syntax_error(root: Path) -> Mistake:
    path = spec_file(root, "name: g\nmodels:\n  - name: [\n")
    return Mistake(["validate", str(path)], f"{path}:4")


def spec_not_a_mapping(root: Path) -> Mistake:
    path = spec_file(root, "- just\n- a list\n")
    return Mistake(["validate", str(path)], f"{path}:1")


def spec_not_utf8(root: Path) -> Mistake:
    path = spec_file(root, b"name: \xff\xfe\n")
    return Mistake(["validate", str(path)], str(path))


def spec_path_missing(root: Path) -> Mistake:
    path = spec_file(root, "name: g\nmodels:\n  - {name: m, backend: python, versions: {1: model.py}}\n")
    return Mistake(["validate", str(path)], f"{path}:3: models[m].versions.1")


def config_not_utf8(root: Path) -> Mistake:
    repo = one_model_repository(root)
    (repo / "m" / "config.pbtxt").write_bytes(b'name: "m"\n\xff\xfe\n')
    return Mistake(["validate", str(repo)], "m/config.pbtxt")


def config_enum_number_unknown(root: Path) -> Mistake:
    repo = one_model_repository(root, PYTHON_CONFIG + "instance_group { kind: -1 }\n")
    return Mistake(["validate", str(repo)], "m/config.pbtxt")


def spec_number_too_large(root: Path) -> Mistake:
    path = spec_file(root, "name: g\nmodels:\n  - name: m\n    backend: python\n    versions: {1: model.py}\n"
                           "    max_batch_size: 99999999999999999999\n")
    (root / "model.py").write_text(PYTHON_MODEL)
    return Mistake(["validate", str(path)], f"{path}:6: models[m].max_batch_size")


def empty_onnx_file(root: Path) -> Mistake:
    return Mistake(["validate", str(one_model_repository(root, ONNX_CONFIG, {"1/model.onnx": b""}))], "m/config.pbtxt")


def dangling_model_link(root: Path) -> Mistake:
    repo = one_model_repository(root, files={})
    (repo / "m" / "1" / "model.py").symlink_to(root / "deleted.py")
    return Mistake(["validate", str(repo)], str(repo / "m" / "1" / "model.py"))


def fifo_in_a_model_folder(root: Path) -> Mistake:
    repo = one_model_repository(root)
    os.mkfifo(repo / "m" / "1" / "weights.bin")
    return Mistake(["validate", str(repo)], str(repo / "m" / "1" / "weights.bin"))


def config_is_a_folder(root: Path) -> Mistake:
    repo = one_model_repository(root, files={"1/model.py": PYTHON_MODEL.encode()})
    (repo / "m" / "config.pbtxt").unlink()
    (repo / "m" / "config.pbtxt").mkdir()
    return Mistake(["validate", str(repo)], "m/config.pbtxt")


def a_device(root: Path) -> Mistake:
    return Mistake(["validate", os.devnull], os.devnull)


def smoke_npy_not_numpy(root: Path) -> Mistake:
    spec = vision(root)
    (spec.parent / "smoke" / "image.npy").write_text("not an array\n")
    return Mistake(["validate", str(spec)], f"{spec}:23: models[preprocess].smoke[reference_image].inputs.IMAGE")


def smoke_npy_truncated(root: Path) -> Mistake:
    spec = vision(root)
    npy = spec.parent / "smoke" / "image.npy"
    npy.write_bytes(npy.read_bytes()[:60])
    return Mistake(["demo", str(spec), "--state-dir", str(root / "state")], f"{spec}:23")


def out_is_a_file(root: Path) -> Mistake:
    return Mistake(["build", str(one_model_repository(root)), "--out", str(a_file(root))], str(a_file(root)))


def out_below_a_file(root: Path) -> Mistake:
    out = a_file(root) / "artifacts"
    return Mistake(["build", str(one_model_repository(root)), "--out", str(out)], str(out))


def cache_is_a_user_file(root: Path) -> Mistake:
    notes = a_file(root)
    repo = one_model_repository(root)
    return Mistake(["build", str(repo), "--out", str(root / "out"), "--cache", str(notes)], str(notes))


def smoke_on_a_folder(root: Path) -> Mistake:
    return Mistake(["smoke", str(one_model_repository(root)), "--url", "127.0.0.1:8000"], str(root / "repo"))


def smoke_missing_spec(root: Path) -> Mistake:
    return Mistake(["smoke", str(root / "nope.yaml"), "--url", "127.0.0.1:8000"], str(root / "nope.yaml"))


def smoke_url(url: str, *options: str) -> Callable[[Path], Mistake]:
    def make(root: Path) -> Mistake:
        return Mistake(["smoke", str(vision(root)), "--url", url, *options], "--url")
    return make


def smoke_unknown_model(root: Path) -> Mistake:
    spec = vision(root)
    return Mistake(["smoke", str(spec), "--url", "127.0.0.1:8000", "--model", "resnet"],
                   f"--model: no model named 'resnet' in the spec {spec}")


def usage(*argv: str) -> Callable[[Path], Mistake]:
    def make(root: Path) -> Mistake:
        spec = vision(root) if "SPEC" in argv else None
        return Mistake([str(spec) if arg == "SPEC" else arg for arg in argv], "triton-groups")
    return make


def serve_invalid_repository(root: Path) -> Mistake:
    repo = one_model_repository(root, PYTHON_CONFIG.replace('name: "m"', 'name: "other"'))
    return Mistake(["serve", str(repo), "--state-dir", str(root / "state")], str(repo))


def serve_state_dir_is_a_file(root: Path) -> Mistake:
    notes = a_file(root)
    return Mistake(["serve", str(one_model_repository(root)), "--state-dir", str(notes)], str(notes))


def stop_nothing_recorded(root: Path) -> Mistake:
    (root / "state").mkdir()
    return Mistake(["stop", "--state-dir", str(root / "state")], str(root / "state" / "server.json"))


def stop_record(content: bytes) -> Callable[[Path], Mistake]:
    def make(root: Path) -> Mistake:
        (root / "state").mkdir()
        (root / "state" / "server.json").write_bytes(content)
        return Mistake(["stop", "--state-dir", str(root / "state")], str(root / "state" / "server.json"))
    return make


def serve_state_dir_below_a_file(root: Path) -> Mistake:
    below = a_file(root) / "state"
    return Mistake(["serve", str(one_model_repository(root)), "--state-dir", str(below)], str(below))


def stop_record_is_a_folder(root: Path) -> Mistake:
    (root / "state" / "server.json").mkdir(parents=True)
    return Mistake(["stop", "--state-dir", str(root / "state")], str(root / "state" / "server.json"))


def stop_state_dir_is_a_file(root: Path) -> Mistake:
    notes = a_file(root)
    return Mistake(["stop", "--state-dir", str(notes)], str(notes))


def demo_on_a_repository(root: Path) -> Mistake:
    repo = one_model_repository(root)
    return Mistake(["demo", str(repo), "--state-dir", str(root / "state")], str(repo))


def demo_missing_spec(root: Path) -> Mistake:
    return Mistake(["demo", str(root / "nope.yaml"), "--state-dir", str(root / "state")], str(root / "nope.yaml"))


MISTAKES = [
    pytest.param(missing_path, 1, "no such file or folder", id="validate-missing-path"),
    pytest.param(empty_folder, 1, "holds no model folder", id="validate-empty-folder"),
    pytest.param(folder_of_a_spec, 1, "holds group.yaml; give the group spec file instead", id="build-spec-folder"),
    pytest.param(yaml_syntax_error, 1, "not valid YAML", id="validate-yaml-error"),
    pytest.param(spec_not_a_mapping, 1, "the spec must be a mapping", id="validate-spec-not-mapping"),
    pytest.param(spec_not_utf8, 1, "is not UTF-8 text (byte 0xff at offset 6); save it as UTF-8",
                 id="validate-spec-not-utf8"),
    pytest.param(spec_path_missing, 1, "model.py does not exist", id="validate-spec-path-missing"),
    pytest.param(config_not_utf8, 1, "config.pbtxt is not UTF-8 text (byte 0xff at offset 10); save it as UTF-8",
                 id="validate-config-not-utf8"),
    pytest.param(config_is_a_folder, 1, "config.pbtxt is a folder; it must be the model configuration file",
                 id="validate-config-is-a-folder"),
    pytest.param(config_enum_number_unknown, 1, "instance_group[0].kind: -1 is not a value of Kind; use one of "
                 "KIND_AUTO", id="validate-config-enum-number"),
    pytest.param(spec_number_too_large, 1, "Input should be less than or equal to 2147483647",
                 id="validate-spec-number-too-large"),
    pytest.param(empty_onnx_file, 1, "1/model.onnx is not a readable ONNX model: it holds no graph",
                 id="validate-empty-onnx"),
    pytest.param(dangling_model_link, 1, "is a broken symbolic link: its target", id="validate-dangling-link"),
    pytest.param(fifo_in_a_model_folder, 1, "is a FIFO (named pipe), not a regular file, so it cannot be "
                 "served; remove it", id="validate-fifo-in-a-model"),
    pytest.param(a_device, 1, "is a character device, not a regular file or a folder", id="validate-a-device"),
    pytest.param(smoke_npy_not_numpy, 1, "smoke/image.npy is not a .npy file (no NumPy header)",
                 id="validate-npy-not-numpy"),
    pytest.param(smoke_npy_truncated, 1, "smoke/image.npy is not a readable .npy file", id="demo-npy-truncated"),
    pytest.param(out_is_a_file, 1, "is not a folder; give a folder", id="build-out-is-a-file"),
    pytest.param(out_below_a_file, 1, "cannot write the artifacts (Not a directory)", id="build-out-below-a-file"),
    pytest.param(cache_is_a_user_file, 1, "is not a triton-groups hash cache, so it was not overwritten",
                 id="build-cache-is-a-user-file"),
    pytest.param(usage("build", "SPEC", "--out", "out", "--layout", "flat"), 2, "argument --layout: invalid choice",
                 id="build-unknown-layout"),
    pytest.param(usage("build", "SPEC"), 2, "the following arguments are required: --out", id="build-no-out"),
    pytest.param(smoke_on_a_folder, 1, "is a folder; smoke needs a group spec", id="smoke-on-a-folder"),
    pytest.param(smoke_missing_spec, 1, "no such file; give the path of a group spec", id="smoke-missing-spec"),
    pytest.param(smoke_url("not a url"), 2, "give host:port", id="smoke-url-with-spaces"),
    pytest.param(smoke_url("http://127.0.0.1:99999"), 2, "the port must be a number from 1 to 65535",
                 id="smoke-url-port-out-of-range"),
    pytest.param(smoke_url("127.0.0.1:http"), 2, "the port must be a number", id="smoke-url-port-not-a-number"),
    pytest.param(smoke_url("http://[::1"), 2, "argument --url: 'http://[::1': not a URL (Invalid IPv6 URL)",
                 id="smoke-url-malformed"),
    pytest.param(smoke_url("ftp://127.0.0.1:21"), 2, "unknown scheme 'ftp'", id="smoke-url-unknown-scheme"),
    pytest.param(smoke_url("http://127.0.0.1:8000", "--protocol", "grpc"), 2, "the scheme says http but the "
                 "protocol asked is grpc", id="smoke-url-contradicts-protocol"),
    pytest.param(smoke_unknown_model, 1, "no model named 'resnet' in the spec", id="smoke-unknown-model"),
    pytest.param(usage("smoke", "SPEC", "--url", "127.0.0.1:8000", "--repeats", "0"), 2,
                 "argument --repeats: '0' is not a count", id="smoke-repeats-0"),
    pytest.param(usage("smoke", "SPEC", "--url", "127.0.0.1:8000", "--timeout", "-1"), 2,
                 "argument --timeout: '-1' is not a duration", id="smoke-negative-timeout"),
    pytest.param(usage("smoke", "SPEC", "--url", "127.0.0.1:8000", "--timeout", "soon"), 2,
                 "argument --timeout: 'soon' is not a duration", id="smoke-timeout-not-a-number"),
    pytest.param(usage("smoke", "SPEC"), 2, "the following arguments are required: --url", id="smoke-no-url"),
    pytest.param(usage("serve", "SPEC", "--http-port", "0"), 2, "argument --http-port: '0' is not a port",
                 id="serve-port-0"),
    pytest.param(usage("serve", "SPEC", "--http-port", "70000"), 2, "argument --http-port: '70000' is not a port",
                 id="serve-port-70000"),
    pytest.param(usage("serve", "SPEC", "--grpc-port", "abc"), 2, "argument --grpc-port: 'abc' is not a port",
                 id="serve-port-abc"),
    pytest.param(usage("demo", "SPEC", "--http-port", "-1"), 2, "argument --http-port: '-1' is not a port",
                 id="demo-negative-port"),
    pytest.param(serve_invalid_repository, 1, "not served, fix the problems above first", id="serve-invalid-repo"),
    pytest.param(serve_state_dir_is_a_file, 1, "is a file, not a folder; the state folder of a local server must "
                 "be a folder", id="serve-state-dir-is-a-file"),
    pytest.param(serve_state_dir_below_a_file, 1, "is below a file, so it cannot be a folder",
                 id="serve-state-dir-below-a-file"),
    pytest.param(stop_nothing_recorded, 1, "no local server is recorded here", id="stop-nothing-recorded"),
    pytest.param(stop_record(b'{"format": 1, "pid": '), 1, "not a readable local server record",
                 id="stop-record-not-json"),
    pytest.param(stop_record(b'{"format": 1, "pid": 12}'), 1, "not a readable local server record",
                 id="stop-record-incomplete"),
    pytest.param(stop_record(b"[]"), 1, "not a readable local server record (it holds an array, not a JSON "
                 "object)", id="stop-record-not-an-object"),
    pytest.param(stop_record(b"\xff\xfe"), 1, "not a readable local server record (not UTF-8 text)",
                 id="stop-record-not-utf8"),
    pytest.param(stop_record_is_a_folder, 1, "not a readable local server record (is a directory)",
                 id="stop-record-is-a-folder"),
    pytest.param(stop_state_dir_is_a_file, 1, "is a file, not a state folder", id="stop-state-dir-is-a-file"),
    pytest.param(demo_on_a_repository, 1, "is a folder; demo needs a group spec", id="demo-on-a-repository"),
    pytest.param(demo_missing_spec, 1, "no such file; give the path of a group spec", id="demo-missing-spec"),
    pytest.param(usage(), 2, "the following arguments are required: COMMAND", id="no-command"),
    pytest.param(usage("deploy"), 2, "argument COMMAND: invalid choice: 'deploy'", id="unknown-command"),
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """main(argv) in this process: (exit code, stdout, stderr); argparse's exit on bad usage included."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("mistake", "code", "says"), MISTAKES)
def test_a_user_mistake_is_one_clear_line_and_an_exit_code(
    mistake: Callable[[Path], Mistake], code: int, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = mistake(tmp_path)

    exit_code, out, err = run(made.argv, capsys)

    assert "Traceback" not in out + err
    assert exit_code == code, err
    assert [line for line in err.splitlines() if made.names in line and says in line], err


def refused(path: os.PathLike[str] | str) -> PermissionError:
    """What reading or listing `path` raises for a user without permission (the tests may run as root, whom
    `chmod 000` does not stop, so they patch the read instead)."""
    return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))


def test_a_model_folder_that_cannot_be_listed_is_named_not_taken_for_an_empty_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_model_repository(tmp_path)
    listing = os.scandir

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        if Path(path) == repo / "m":
            raise refused(path)
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)

    code, _, err = run(["validate", str(repo)], capsys)

    assert code == 1
    assert err.splitlines() == [f"{repo / 'm'}: cannot be read (permission denied); make it readable by this user or "
                                "remove it", f"1 problem(s) found in {repo}"]


def test_a_python_model_that_cannot_be_read_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_model_repository(tmp_path)
    model = repo / "m" / "1" / "model.py"
    opening = os.open

    def open_(path: os.PathLike[str] | str, flags: int, *args: int) -> int:
        if Path(path) == model:
            raise refused(path)
        return opening(path, flags, *args)

    monkeypatch.setattr(os, "open", open_)

    code, _, err = run(["validate", str(repo)], capsys)

    assert code == 1
    assert err.splitlines() == [f"m/config.pbtxt: default_model_filename: 1/model.py cannot be read ({model}: "
                                "permission denied); make it readable by this user", f"1 problem(s) found in {repo}"]


def test_a_user_file_given_as_the_cache_is_left_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = cache_is_a_user_file(tmp_path)

    assert run(made.argv, capsys)[0] == 1
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


def test_nothing_is_built_or_started_when_the_input_does_not_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = smoke_npy_truncated(tmp_path)

    assert run(made.argv, capsys)[0] == 1
    assert not (tmp_path / "state").exists()


@pytest.fixture
def not_http() -> Iterator[int]:
    """A port whose service answers something that is not HTTP/1.1 (like Triton's gRPC port does)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()

    def answer() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(4096)
                connection.sendall(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00not http\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join()
    listener.close()


@pytest.mark.parametrize("reached", ["nothing listens", "not HTTP"])
def test_a_server_that_does_not_answer_triton_http_is_a_failed_smoke_test(
    reached: str, not_http: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port() if reached == "nothing listens" else not_http

    code, out, err = run(["smoke", str(vision(tmp_path)), "--url", f"127.0.0.1:{port}", "--timeout", "0.5"], capsys)

    assert code == 1
    assert err.startswith(f"waiting up to 0.5 s for http://127.0.0.1:{port} to be live and for preprocess, "
                          "classifier_onnx, cnn_torch, vision_ensemble to be ready (")
    assert len(err.splitlines()) == 1
    assert out.startswith(f"FAIL: http://127.0.0.1:{port} did not answer within 0.5 s: ")
    if reached == "not HTTP":
        assert "the answer is not HTTP" in out and "give a grpc:// URL or --protocol grpc" in out


def test_a_bug_shows_its_traceback_and_how_to_report_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_schema", broken)

    code, _, err = run(["schema"], capsys)

    assert code == cli.EXIT_INTERNAL_ERROR == 70
    assert err.startswith("Traceback (most recent call last):")
    assert "RuntimeError: a bug" in err
    assert err.splitlines()[-1] == (
        "triton-groups: internal error (RuntimeError): this is a bug in triton-groups, not in your input; please "
        "report it with the command you ran and the traceback above"
    )


def test_an_interrupted_command_says_so_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_schema", interrupted)

    assert run(["schema"], capsys) == (130, "", "interrupted\n")


def installed(*argv: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMMAND), *argv], capture_output=True, text=True, timeout=60, check=False,
                          **options)  # type: ignore[call-overload]


def test_the_installed_command_exits_1_for_a_mistake_and_2_for_bad_usage(tmp_path: Path) -> None:
    missing = installed("validate", str(tmp_path / "nope.yaml"))
    bad_port = installed("serve", str(tmp_path), "--http-port", "70000")

    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", (
        f"{tmp_path / 'nope.yaml'}: no such file or folder; give a group spec (YAML) or a Triton model repository "
        "folder\n"))
    assert bad_port.returncode == 2
    assert bad_port.stderr.splitlines()[-1] == ("triton-groups serve: error: argument --http-port: '70000' is not a "
                                                "port; give 1 to 65535, or leave the option out to use a free port")


def test_the_installed_command_stops_quietly_when_its_reader_goes_away() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([str(COMMAND), "schema"], stdout=write_end, stderr=subprocess.PIPE, text=True,
                                timeout=60, check=False)
    finally:
        os.close(write_end)

    assert (result.returncode, result.stderr) == (141, "")


def interrupt_a_build(repo: Path, out: Path, signal_sent: int) -> tuple[int | None, str]:
    """Start a build, send `signal_sent` once its temporary zip exists; (exit code, stderr), or (None, "") when
    the build ended before the signal could be sent (a fast machine, or this test descheduled under load)."""
    build = subprocess.Popen([str(COMMAND), "build", str(repo), "--out", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(out.glob(".repository.zip.*.tmp")) and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if build.poll() is not None:
        build.communicate()
        return None, ""
    build.send_signal(signal_sent)
    _, err = build.communicate(timeout=60)
    return build.returncode, err


@pytest.mark.parametrize("signal_sent", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_build_exits_130_and_leaves_no_partial_zip(signal_sent: int, tmp_path: Path) -> None:
    repo = one_model_repository(tmp_path)
    out = tmp_path / "out"
    for size in (256 << 20, 1 << 30, 4 << 30):  # a larger (sparse) file when the build outran the signal
        with (repo / "m" / "1" / "weights.bin").open("wb") as weights:
            weights.truncate(size)
        shutil.rmtree(out, ignore_errors=True)
        returncode, err = interrupt_a_build(repo, out, signal_sent)
        if returncode is not None:
            break

    assert (returncode, err) == (130, "interrupted\n")
    assert list(out.iterdir()) == []


@pytest.mark.triton
def test_ctrl_c_while_a_server_starts_stops_it_and_exits_130(tmp_path: Path) -> None:
    state = tmp_path / "state"
    slow = one_model_repository(tmp_path, files={"1/model.py": SLOW_LOADING_MODEL.encode()})
    serve = subprocess.Popen([str(COMMAND), "serve", str(slow), "--state-dir", str(state)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not processes_using(state / "repository") and time.monotonic() < deadline:
        time.sleep(0.01)

    serve.send_signal(signal.SIGINT)
    out, err = serve.communicate(timeout=60)

    assert (serve.returncode, out, err) == (130, "", "interrupted\n")
    assert processes_using(state) == []


@pytest.mark.triton
def test_serving_on_a_port_in_use_names_the_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = run(["serve", str(one_model_repository(tmp_path)), "--state-dir", str(tmp_path / "state"),
                            "--detach", "--http-port", str(port)], capsys)

    assert code == 1
    assert err == (f"tritonserver could not listen on 127.0.0.1 port {port}, the HTTP port asked for: it is in use; "
                   "give another HTTP port, or leave it out to get a free one, or stop what listens there\n")
    assert processes_using(tmp_path / "state") == []


def test_an_npz_archive_is_not_taken_for_a_pickle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = vision(tmp_path)
    np.savez(spec.parent / "smoke" / "archive.npz", image=np.zeros((1, 8, 8, 3), np.uint8))
    (spec.parent / "smoke" / "image.npy").write_bytes((spec.parent / "smoke" / "archive.npz").read_bytes())

    code, _, err = run(["validate", str(spec)], capsys)

    assert code == 1
    assert f"{spec}:23: models[preprocess].smoke[reference_image].inputs.IMAGE: smoke/image.npy is an .npz archive; " \
           "give one array saved with np.save" in err.splitlines()


def test_folder_names_with_line_breaks_or_bytes_that_are_not_utf8_are_escaped_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    for name in (b"bad\nname", b"caf\xe9"):
        folder = repo / os.fsdecode(name)
        (folder / "1").mkdir(parents=True)
        (folder / "config.pbtxt").write_text(PYTHON_CONFIG)
        (folder / "1" / "model.py").write_text(PYTHON_MODEL)

    code, _, err = run(["validate", str(repo)], capsys)

    assert code == 1
    lines = err.splitlines()
    assert "bad\\nname/config.pbtxt: name: name 'm' does not match the model folder 'bad\\nname'; Triton requires " \
           "them to be equal: rename the folder to a valid model name, then write that name or leave name out" in lines
    assert "caf\\xe9/config.pbtxt: name: name 'm' does not match the model folder 'caf\\xe9'; Triton requires them " \
           "to be equal: rename the folder to a valid model name, then write that name or leave name out" in lines
    assert all(line.startswith(("bad\\nname/", "caf\\xe9/", "2 problem", "4 problem")) for line in lines), lines
    assert not [line for line in lines if 'write name: "' in line], "the hint never suggests the bad name itself"


def test_folders_skipped_as_not_a_model_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = one_model_repository(tmp_path)
    (repo / ".git").mkdir()
    (repo / "__pycache__").mkdir()

    code, out, _ = run(["validate", str(repo)], capsys)

    assert code == 0
    assert f"{repo / '.git'}: warning: skipped, not read as a model (its name starts with '.')" in out.splitlines()
    assert f"{repo / '__pycache__'}: warning: skipped, not read as a model (a cache folder)" in out.splitlines()
