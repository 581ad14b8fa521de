"""Updating a group served by a REAL detached tritonserver: only what changed is reloaded, nothing restarts.

The server holds a Python add/sub model, an ONNX model (through the shim) and an ensemble over it.
Each test describes the repository it wants and syncs to it: sync is declarative, so every test
starts from the base repository again.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient
from triton_models import SCALE_ONNX_CONFIG, write_add_sub, write_model, write_scale_onnx

from components.core.plan import load_plan, plan_from_folder
from components.core.problems import UserError
from components.core.runtime import LocalServer, ServerRecord, attach, is_serving, stop, sync, triton_api
from components.core.runtime.local_repository import plan_digests

pytestmark = pytest.mark.triton

ENSEMBLE_CONFIG = """
name: "scale_ensemble"
platform: "ensemble"
max_batch_size: 8
input { name: "IN" data_type: TYPE_FP32 dims: [4] }
output { name: "OUT" data_type: TYPE_FP32 dims: [4] }
ensemble_scheduling {
  step {
    model_name: "scale_onnx" model_version: -1 input_map { key: "X" value: "IN" } output_map { key: "Y" value: "OUT" }
  }
}
"""


def build_repository(root: Path, factor: float = 2.0, scale_input: str = "X", extra_model: bool = False,
                     ensemble: bool = True) -> Path:
    """The base repository (add_sub, scale_onnx computing X * factor + 1, scale_ensemble), with variations."""
    shutil.rmtree(root, ignore_errors=True)
    write_add_sub(root)
    if extra_model:
        write_add_sub(root, "sub_only")
    scale = write_model(root, "scale_onnx", SCALE_ONNX_CONFIG.replace('name: "X"', f'name: "{scale_input}"'))
    write_scale_onnx(scale / "1" / "model.onnx", factor)
    if ensemble:
        write_model(root, "scale_ensemble", ENSEMBLE_CONFIG)
    return root


def infer(url: str, model: str) -> float:
    """One request with all-ones inputs; the first output's first value."""
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    try:
        names, output = {"add_sub": (["A", "B"], "SUM"), "sub_only": (["A", "B"], "DIFF"),
                         "scale_onnx": (["X"], "Y"), "scale_ensemble": (["IN"], "OUT")}[model]
        inputs = []
        for name in names:
            tensor = httpclient.InferInput(name, [1, 4], "FP32")
            tensor.set_data_from_numpy(np.ones((1, 4), np.float32))
            inputs.append(tensor)
        return float(client.infer(model, inputs).as_numpy(output)[0, 0])
    finally:
        client.close()


def inference_count(url: str, model: str) -> int:
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    try:
        return int(client.get_inference_statistics(model)["model_stats"][0]["inference_count"])
    finally:
        client.close()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("state")
    LocalServer.start_detached(load_plan(build_repository(tmp_path_factory.mktemp("base") / "repo")), state)
    yield state
    stop(ServerRecord.load(state))


@pytest.fixture
def record(state_dir: Path, tmp_path: Path) -> ServerRecord:
    """The detached server's record, after syncing it back to the base repository."""
    return sync(attach(state_dir), load_plan(build_repository(tmp_path / "base"))).record


def test_an_unchanged_plan_changes_nothing(record: ServerRecord, tmp_path: Path) -> None:
    result = sync(record, load_plan(build_repository(tmp_path / "same")))
    assert not result.changed
    assert result.unchanged == ("add_sub", "scale_ensemble", "scale_onnx")
    assert result.shimmed == ("scale_onnx",)


def test_changing_one_model_reloads_only_it_while_the_others_keep_answering(record: ServerRecord,
                                                                           tmp_path: Path) -> None:
    assert infer(record.http_url, "scale_ensemble") == 3.0
    before = inference_count(record.http_url, "add_sub")
    answers: list[float | str] = []
    updating = threading.Event()

    def keep_asking() -> None:
        while updating.is_set():
            try:
                answers.append(infer(record.http_url, "add_sub"))
            except Exception as exc:
                answers.append(repr(exc))

    updating.set()
    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        result = sync(record, load_plan(build_repository(tmp_path / "changed", factor=3.0)))
    finally:
        updating.clear()
        asker.join()

    assert (result.loaded, result.reloaded, result.unloaded) == ((), ("scale_ensemble", "scale_onnx"), ())
    assert result.unchanged == ("add_sub",)
    assert answers and set(answers) == {2.0}, "add_sub answered every request during the update"
    assert inference_count(record.http_url, "add_sub") >= before + len(answers), "add_sub was not reloaded"
    assert inference_count(record.http_url, "scale_onnx") == 0, "scale_onnx is a freshly loaded instance"
    assert infer(record.http_url, "scale_onnx") == 4.0
    assert infer(record.http_url, "scale_ensemble") == 4.0
    assert result.record == ServerRecord.load(record.state_dir)
    assert dict(result.record.models) == plan_digests(load_plan(tmp_path / "changed"))


def test_new_models_load_and_removed_models_unload(record: ServerRecord, tmp_path: Path) -> None:
    result = sync(record, load_plan(build_repository(tmp_path / "next", extra_model=True, ensemble=False)))
    assert (result.loaded, result.reloaded, result.unloaded) == (("sub_only",), (), ("scale_ensemble",))
    assert infer(record.http_url, "sub_only") == 0.0
    assert "scale_ensemble" not in triton_api.repository_index(record.http_url)
    assert sorted(p.name for p in record.repository.iterdir()) == ["add_sub", "scale_onnx", "sub_only"]
    assert sorted(result.record.models) == ["add_sub", "scale_onnx", "sub_only"]
    assert is_serving(result.record)


def test_a_failed_reload_is_reported_and_the_previous_version_keeps_serving(record: ServerRecord,
                                                                            tmp_path: Path) -> None:
    served_before = plan_digests(plan_from_folder(record.repository))
    with pytest.raises(UserError) as raised:
        sync(record, load_plan(build_repository(tmp_path / "broken", factor=5.0, scale_input="WRONG")))
    [problem] = raised.value.problems
    assert problem.file == "scale_onnx/config.pbtxt"
    assert "Triton could not load model 'scale_onnx'" in problem.message
    assert "unknown inputs ['WRONG']" in problem.message
    assert infer(record.http_url, "scale_onnx") == 3.0
    assert ServerRecord.load(record.state_dir).models == record.models
    assert plan_digests(plan_from_folder(record.repository)) == served_before, "the old folder is back"
    assert is_serving(record)


def test_a_server_that_is_gone_cannot_be_synced(record: ServerRecord, tmp_path: Path) -> None:
    gone = ServerRecord(**{**record.__dict__, "start_ticks": record.start_ticks + 1, "state_dir": tmp_path})
    with pytest.raises(UserError, match="is not running; start it again"):
        sync(gone, load_plan(build_repository(tmp_path / "any")))
