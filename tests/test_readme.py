"""What the README shows is true: its sample spec is the example it describes, and its Python-backend model serves on
a REAL tritonserver and passes its smoke case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.core.plan import load_plan
from components.core.runtime import LocalServer
from components.core.smoke.runner import run_smoke
from components.core.smoke.triton_transport import TritonTransport
from components.core.validate import validate_plan

PROJECT = Path(__file__).resolve().parents[1]
README = (PROJECT / "README.md").read_text()
EXAMPLE = PROJECT / "examples" / "vision"


def section(heading: str) -> str:
    """The README's text from `heading` to the next heading of any level."""
    start = README.index(f"{heading}\n")
    following = re.search(r"^#{1,6} ", README[start + len(heading):], flags=re.MULTILINE)
    return README[start: start + len(heading) + (following.start() if following else len(README))]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_the_sample_spec_is_an_excerpt_of_the_example_it_describes() -> None:
    [sample] = blocks(section("## What a group looks like"), "yaml")
    shown = yaml.safe_load(sample)
    example = yaml.safe_load((EXAMPLE / "group.yaml").read_text())

    assert shown["name"] == example["name"]
    for model in shown["models"]:
        [written] = [m for m in example["models"] if m["name"] == model["name"]]
        assert {key: written[key] for key in model if key != "smoke"} == {k: v for k, v in model.items()
                                                                           if k != "smoke"}
        for case in model.get("smoke", []):
            assert case in written["smoke"]
    files = re.findall(r"[\w/]+\.(?:onnx|npy|pt|py)\b", sample)
    assert files and all((EXAMPLE / name).is_file() for name in files), files


def python_group(folder: Path) -> Path:
    text = section("### Writing a Python-backend model")
    [spec], [model] = blocks(text, "yaml"), blocks(text, "python")
    (folder / "scale").mkdir(parents=True)
    (folder / "scale" / "model.py").write_text(model)
    (folder / "group.yaml").write_text(spec)
    return folder / "group.yaml"


def test_the_python_backend_example_validates(tmp_path: Path) -> None:
    assert [str(p) for p in validate_plan(load_plan(python_group(tmp_path))) if p.is_error] == []


@pytest.mark.triton
def test_the_python_backend_example_serves_and_passes_its_smoke_case(tmp_path: Path) -> None:
    plan = load_plan(python_group(tmp_path / "group"))
    assert plan.spec is not None

    with LocalServer.start(plan, tmp_path / "state") as server, TritonTransport(server.http_url) as transport:
        report = run_smoke(plan.spec, transport)

    assert report.passed, report.summary()
    assert [(case.model, case.case) for case in report.cases] == [("scale", "two_rows")]
