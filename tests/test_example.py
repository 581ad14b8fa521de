"""The vision example: it loads, plans and materializes; its files are what generate.py makes; and its
expected outputs are what the models really compute (onnxruntime, torch, numpy), without a server.

The smoke cases are prepared and checked by the project's own smoke code (`prepare_cases`,
`check_output`), with each model run locally instead of through Triton."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from components.core.plan import load_plan, materialize
from components.core.smoke.cases import prepare_cases
from components.core.smoke.checks import check_output
from components.core.spec import ModelSpec, load_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vision"
SPEC_PATH = EXAMPLE / "group.yaml"
SPEC = load_spec(SPEC_PATH)

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")
"""Triton's pytorch_libtorch backend serves TorchScript, which torch 2.13 marks deprecated."""

Runner = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
"""Runs one model outside Triton: input tensors by name -> output tensors by name."""


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_spec_describes_a_heterogeneous_group() -> None:
    kinds = {model.name: model.platform or model.backend for model in SPEC.models}

    assert kinds == {
        "preprocess": "python",
        "classifier_onnx": "onnxruntime_onnx",
        "cnn_torch": "pytorch_libtorch",
        "vision_ensemble": "ensemble",
    }
    assert all(model.max_batch_size == 8 for model in SPEC.models)
    assert SPEC.smoke.repeats >= 2
    classifier = SPEC.model("classifier_onnx")
    assert classifier.dynamic_batching is not None and classifier.dynamic_batching.max_queue_delay_microseconds > 0
    assert [(g.kind, g.count) for g in classifier.instance_groups] == [("KIND_CPU", 1)]


def test_every_model_has_smoke_cases_and_the_group_uses_several_match_kinds() -> None:
    assert all(len(model.smoke) >= 2 for model in SPEC.models)
    used = {e.match for model in SPEC.models for case in model.smoke for e in case.expect.values()}
    assert {"allclose", "argmax", "top_k", "shape"} <= used
    assert any(e.rtol != 1e-5 or e.atol != 1e-8 for m in SPEC.models for c in m.smoke for e in c.expect.values())


def test_the_ensemble_passes_tensors_that_agree_with_its_steps() -> None:
    ensemble = SPEC.model("vision_ensemble")
    assert ensemble.ensemble is not None
    tensors = {t.name: (t.data_type, t.dims) for t in ensemble.inputs}
    for step in ensemble.ensemble.steps:
        model = SPEC.model(step.model)
        for model_input, tensor in step.input_map.items():
            (given,) = [t for t in model.inputs if t.name == model_input]
            assert tensors[tensor] == (given.data_type, given.dims), f"{step.model}.{model_input}"
        for model_output, tensor in step.output_map.items():
            (made,) = [t for t in model.outputs if t.name == model_output]
            tensors[tensor] = (made.data_type, made.dims)
    assert all(tensors[t.name] == (t.data_type, t.dims) for t in ensemble.outputs)
    assert ensemble.ensemble.steps[0].output_map == {"PIXELS": "preprocessed"}


def test_materialize_gives_a_triton_repository(tmp_path: Path) -> None:
    repo = materialize(load_plan(SPEC_PATH), tmp_path / "repo")

    found = sorted(p.relative_to(repo).as_posix() + ("/" if p.is_dir() else "") for p in repo.rglob("*"))
    assert found == [
        "classifier_onnx/", "classifier_onnx/1/", "classifier_onnx/1/model.onnx", "classifier_onnx/config.pbtxt",
        "cnn_torch/", "cnn_torch/1/", "cnn_torch/1/model.pt", "cnn_torch/config.pbtxt",
        "preprocess/", "preprocess/1/", "preprocess/1/model.py", "preprocess/config.pbtxt",
        "vision_ensemble/", "vision_ensemble/1/", "vision_ensemble/config.pbtxt",
    ]
    assert (repo / "classifier_onnx/1/model.onnx").read_bytes() == (
        EXAMPLE / "models/classifier_onnx/model.onnx").read_bytes()
    assert 'platform: "ensemble"' in (repo / "vision_ensemble/config.pbtxt").read_text()
    assert 'backend: "python"' in (repo / "preprocess/config.pbtxt").read_text()


def test_the_onnx_model_matches_its_config() -> None:
    model = onnx.load(str(EXAMPLE / "models/classifier_onnx/model.onnx"))
    onnx.checker.check_model(model, full_check=True)

    assert model.ir_version == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert [n.op_type for n in model.graph.node] == ["Flatten", "MatMul", "Add", "Softmax"]
    (given,) = model.graph.input
    (made,) = model.graph.output
    assert given.name == "PIXELS" and made.name == "PROBS"
    given_dims = given.type.tensor_type.shape.dim
    assert given_dims[0].dim_param and [d.dim_value for d in given_dims[1:]] == [3, 8, 8]
    assert [d.dim_value for d in made.type.tensor_type.shape.dim[1:]] == [10]
    assert given.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def preprocess_runner() -> Runner:
    preprocess = load_module("vision_example_model", EXAMPLE / "models/preprocess/model.py").preprocess
    return lambda inputs: {"PIXELS": preprocess(inputs["IMAGE"])}


def onnx_runner() -> Runner:
    session = ort.InferenceSession(str(EXAMPLE / "models/classifier_onnx/model.onnx"),
                                   providers=["CPUExecutionProvider"])
    return lambda inputs: {"PROBS": session.run(["PROBS"], {"PIXELS": inputs["PIXELS"]})[0]}


def torchscript_runner(path: Path) -> Runner:
    torch = pytest.importorskip("torch")
    module = torch.jit.load(str(path), map_location="cpu").eval()

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {"OUTPUT__0": module(torch.from_numpy(inputs["INPUT__0"])).numpy()}

    return run


def ensemble_runner(model: ModelSpec, runners: dict[str, Runner]) -> Runner:
    """Runs the ensemble's steps in order, passing tensors by the names in its input and output maps."""
    assert model.ensemble is not None
    steps = model.ensemble.steps

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tensors = dict(inputs)
        for step in steps:
            made = runners[step.model]({name: tensors[tensor] for name, tensor in step.input_map.items()})
            tensors.update({tensor: made[name] for name, tensor in step.output_map.items()})
        return {t.name: tensors[t.name] for t in model.outputs}

    return run


def runner_for(name: str) -> Runner:
    direct: dict[str, Callable[[], Runner]] = {
        "preprocess": preprocess_runner,
        "classifier_onnx": onnx_runner,
        "cnn_torch": lambda: torchscript_runner(EXAMPLE / "models/cnn_torch/model.pt"),
    }
    if name in direct:
        return direct[name]()
    model = SPEC.model(name)
    assert model.ensemble is not None
    return ensemble_runner(model, {step.model: direct[step.model]() for step in model.ensemble.steps})


CASES = [(model.name, case.name) for model in SPEC.models for case in model.smoke]


@pytest.mark.parametrize(("model_name", "case_name"), CASES, ids=[f"{m}/{c}" for m, c in CASES])
def test_expected_outputs_are_what_the_model_computes(model_name: str, case_name: str) -> None:
    (case,) = [c for c in prepare_cases(SPEC, SPEC.model(model_name)) if c.name == case_name]

    outputs = runner_for(model_name)({tensor.name: tensor.array for tensor in case.inputs})

    assert {e.output: check_output(e, outputs[e.output]) for e in case.expectations} == {
        e.output: None for e in case.expectations
    }


def test_a_wrong_expectation_is_caught_by_the_same_check() -> None:
    (case,) = [c for c in prepare_cases(SPEC, SPEC.model("classifier_onnx")) if c.name == "batch_top3"]
    outputs = runner_for("classifier_onnx")({tensor.name: tensor.array for tensor in case.inputs})
    (expectation,) = case.expectations
    wrong = dataclasses.replace(expectation, expected=np.array([[0, 1, 2], [0, 1, 2]]))

    assert check_output(expectation, outputs["PROBS"]) is None
    assert check_output(wrong, outputs["PROBS"]) is not None


COMPUTED_BY_A_RUNTIME = {"smoke/probs.npy", "smoke/logits.npy"}
"""Outputs of onnxruntime and torch kernels, whose last bits may differ between CPUs (AVX2, AVX-512);
everything else generate.py makes (numpy arithmetic, seeded generators, the ONNX graph) is byte-stable."""


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example as generate.py makes it, in a fresh folder."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("regenerated")
    assert load_module("vision_example_generate", EXAMPLE / "generate.py").main(["--out", str(out)]) == 0
    return out


def test_generate_reproduces_the_committed_files(regenerated: Path) -> None:
    made = sorted(p.relative_to(regenerated).as_posix() for p in regenerated.rglob("*") if p.is_file())

    assert made == [
        "group.yaml", "models/classifier_onnx/model.onnx", "models/cnn_torch/model.pt",
        "smoke/image.npy", "smoke/images2.npy", "smoke/logits.npy", "smoke/pixels.npy", "smoke/pixels2.npy",
        "smoke/probs.npy",
    ]
    for relative in made:
        if relative in COMPUTED_BY_A_RUNTIME:
            fresh, committed = np.load(regenerated / relative), np.load(EXAMPLE / relative)
            assert fresh.dtype == committed.dtype and fresh.shape == committed.shape, relative
            np.testing.assert_allclose(fresh, committed, rtol=1e-6, atol=1e-7, err_msg=relative)
        elif not relative.endswith(".pt"):
            assert (regenerated / relative).read_bytes() == (EXAMPLE / relative).read_bytes(), relative


def test_the_regenerated_torchscript_computes_what_the_committed_one_does(regenerated: Path) -> None:
    torch = pytest.importorskip("torch")
    committed = torch.jit.load(str(EXAMPLE / "models/cnn_torch/model.pt"))
    fresh = torch.jit.load(str(regenerated / "models/cnn_torch/model.pt"))
    pixels = torch.from_numpy(np.load(EXAMPLE / "smoke/pixels2.npy"))

    for (name, weight), (fresh_name, fresh_weight) in zip(
        committed.state_dict().items(), fresh.state_dict().items(), strict=True
    ):
        assert name == fresh_name
        assert torch.equal(weight, fresh_weight), name
    with torch.no_grad():
        assert torch.equal(committed(pixels), fresh(pixels))
        assert tuple(committed(pixels).shape) == (2, 10)


def test_generate_refuses_clearly_without_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    generate = load_module("vision_example_generate_no_torch", EXAMPLE / "generate.py")
    monkeypatch.setitem(sys.modules, "torch", None)

    assert generate.main(["--out", str(tmp_path / "out")]) == 1

    assert "generate.py needs torch" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_committed_files_stay_small() -> None:
    total = sum(p.stat().st_size for p in EXAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)

    assert total < 300_000


def test_preprocess_turns_a_batch_of_images_into_pixels_of_the_requested_dtype() -> None:
    model = load_module("vision_example_model_dtype", EXAMPLE / "models/preprocess/model.py")
    images = np.load(EXAMPLE / "smoke/images2.npy")

    pixels = model.preprocess(images, np.float16)

    assert pixels.shape == (2, 3, 8, 8) and pixels.dtype == np.float16
    assert pixels.flags.c_contiguous
    channel_0 = (images[..., 0].astype(np.float32) / 255 - 0.485) / 0.229
    np.testing.assert_allclose(pixels[:, 0].astype(np.float32), channel_0, rtol=1e-2, atol=1e-2)
