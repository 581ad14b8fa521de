"""LocalTritonServer: a real detached tritonserver, updated model by model, reported gone once stopped."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.core.content import model_digests
from components.core.package import plan_content
from components.core.plan import load_plan
from components.core.runtime import ServerRecord, is_serving, stop
from components.core.runtime.state import process_info
from components.providers.local_server import LocalTritonServerProvider

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vision"


@pytest.fixture
def group(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "vision", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "vision" / "group.yaml"


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """The server's state folder; whatever a failed test left serving there is stopped."""
    path = tmp_path / "state"
    yield path
    record = ServerRecord.find(path)
    if record is not None:
        stop(record)


def inputs(spec: Path, state_dir: Path, **changes: object) -> dict:
    return {"spec_path": str(spec), "models": model_digests(plan_content(load_plan(spec), state_dir / "out")[0]),
            "state_dir": str(state_dir), **changes}


def test_digests_change_only_for_the_model_whose_files_changed() -> None:
    old = model_digests({"a": {"1/model.py": "1"}, "b": {"1/model.py": "2"}})
    new = model_digests({"a": {"1/model.py": "1"}, "b": {"1/model.py": "3"}})
    assert old["a"] == new["a"] and old["b"] != new["b"]


@pytest.mark.triton
def test_a_server_is_started_updated_in_place_and_stopped(group: Path, state_dir: Path) -> None:
    provider = LocalTritonServerProvider()
    props = inputs(group, state_dir)
    created = provider.create(props)
    outs = created.outs
    record = ServerRecord.load(state_dir)
    assert record.pid == outs["pid"] and is_serving(record)
    assert outs["http_url"] == f"http://127.0.0.1:{outs['http_port']}"
    assert outs["grpc_url"] == f"127.0.0.1:{outs['grpc_port']}"
    assert sorted(outs["shimmed"]) == ["classifier_onnx", "cnn_torch"]
    assert provider.read(created.id, outs).id == created.id
    assert provider.diff(created.id, outs, props).changes is False
    moved = provider.diff(created.id, outs, {**props, "requested_http_port": 18000})
    assert moved.replaces == ["requested_http_port"] and moved.delete_before_replace

    model = group.parent / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "\n# edited: new bytes, same behaviour\n")
    news = inputs(group, state_dir)
    diff = provider.diff(created.id, outs, news)
    assert diff.changes is True and not diff.replaces
    updated = provider.update(created.id, outs, news).outs
    assert updated["pid"] == outs["pid"]
    assert updated["last_sync"] == {"loaded": [], "reloaded": ["preprocess", "vision_ensemble"], "unloaded": []}

    provider.delete(created.id, updated)
    info = process_info(outs["pid"])
    assert info is None or not info.running
    assert ServerRecord.find(state_dir) is None
    assert provider.read(created.id, updated).id is None
    assert provider.diff(created.id, updated, news).replaces == ["pid"]
