"""Properties of `triton-groups validate` on generated input, run by tests/test_fuzz_inputs.py in a subprocess.

Whatever a spec file or a model's config.pbtxt holds, `validate` ends with exit 0 (valid) or 1 (problems, as
lines naming file and field): never an internal error (exit 70, a traceback), never a hang, never a large
allocation. Each example runs under an alarm (HANG_S) and tracemalloc (its peak must stay under PEAK_BYTES); the
subprocess itself has an address-space limit, so an explosion fails the test instead of the machine.

The examples come from hypothesis: arbitrary text and bytes; YAML documents built from the spec's own keys and
values of every kind; YAML with anchors, aliases and deep nesting; mutations of the vision example; config.pbtxt
text built from Triton's ModelConfig descriptor (every field, values in and out of range) and mutated.
"""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
import signal
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tritonclient.grpc import model_config_pb2 as mc

from components.cli import main

HANG_S = 5
PEAK_BYTES = 128 << 20
EXAMPLE_FOLDER = Path(__file__).resolve().parents[1] / "examples" / "vision"
EXAMPLE = (EXAMPLE_FOLDER / "group.yaml").read_text()
EXAMPLE_COPY = Path(tempfile.mkdtemp(prefix="fuzz-vision.")) / "vision"
shutil.copytree(EXAMPLE_FOLDER, EXAMPLE_COPY, ignore=shutil.ignore_patterns("__pycache__"))
SPEC_KEYS = [
    "name", "description", "models", "backend", "platform", "config", "versions", "max_batch_size", "inputs",
    "outputs", "data_type", "dims", "reshape", "optional", "label_filename", "instance_groups", "kind", "count",
    "gpus", "dynamic_batching", "preferred_batch_size", "max_queue_delay_microseconds", "version_policy", "latest",
    "all", "specific", "parameters", "python", "execution_env", "stub", "ensemble", "steps", "model", "version",
    "input_map", "output_map", "extra_config", "smoke", "inputs", "expect", "value", "npy", "datatype", "shape",
    "match", "rtol", "atol", "k", "repeats", "timeout_s", "latency_budget_ms", "server_args", "allow_links_to",
    "default_model_filename",
]
SPEC_WORDS = ["python", "onnxruntime_onnx", "pytorch_libtorch", "ensemble", "FP32", "INT64", "BYTES", "TYPE_UINT8",
              "KIND_CPU", "CPU", "allclose", "exact", "argmax", "top_k", "shape", "model.py", "m", "IN", "OUT",
              "../outside", "/dev/zero", "-1", "1", "0"]
SETTINGS = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


class Hang(Exception):
    """An example ran longer than HANG_S."""


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Fail an example that runs longer than HANG_S or allocates more than PEAK_BYTES at its peak."""
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {HANG_S} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_S)
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
        assert peak < PEAK_BYTES, f"peak allocation {peak:,} bytes"
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def validate(path: Path) -> None:
    """`triton-groups validate path` in this process: exit 0 or 1, and no traceback on stderr."""
    out, err = io.StringIO(), io.StringIO()
    with bounded(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    assert code in (0, 1), f"exit {code}:\n{err.getvalue()}"
    assert "Traceback" not in err.getvalue(), err.getvalue()
    lines = [line for line in (out.getvalue() + err.getvalue()).splitlines() if line]
    assert lines, "something is said"


@contextlib.contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "model.py").write_text("class TritonPythonModel:\n    pass\n")
        (root / "m.onnx").write_bytes(b"")
        yield root


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(SPEC_WORDS),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(SPEC_KEYS), st.integers(-2, 4), st.text(max_size=6)), children,
                        max_size=6),
    ),
    max_leaves=40,
)
model_like = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["m", "n", "a.b", "-x", ""]), st.text(max_size=8))},
    optional={key: values for key in SPEC_KEYS[1:]},
)
documents = st.one_of(
    values,
    st.fixed_dictionaries({"name": st.sampled_from(["g", "vision", ""]), "models": st.lists(model_like, max_size=3)},
                          optional={"smoke": values, "server_args": values, "description": values}),
)


@st.composite
def aliased(draw: st.DrawFn) -> str:
    """YAML whose anchors are used by aliases any number of times, deeply, or inside themselves."""
    lines = [f"a0: &a0 [{', '.join(draw(st.lists(st.sampled_from(['1', 'x', '{k: v}']), max_size=6)))}]"]
    levels = draw(st.integers(1, 12))
    for level in range(1, levels):
        uses = ", ".join(f"*a{draw(st.integers(0, level - 1))}" for _ in range(draw(st.integers(1, 12))))
        lines.append(f"a{level}: &a{level} [{uses}]")
    if draw(st.booleans()):
        lines.append(f"r: &r {{self: *r, more: [{'[' * draw(st.integers(0, 80))}{']' * draw(st.integers(0, 80))}]}}")
    lines.append(f"name: g\nmodels: [{{name: m, backend: python, versions: {{1: model.py}}, "
                 f"parameters: *a{levels - 1}}}]")
    return "\n".join(lines) + "\n"


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` with a few characters inserted, removed or replaced at random places."""
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(["", "\n", " ", ":", "-", "[", "]", "{", "}", "&a ", "*a", "\t", "\x00", '"',
                                      "'", "#", "!!", "0", "\ufeff", "\u2028"]))
        text = text[:at] + piece + text[at + draw(st.integers(0, 3)):]
    return text


@SETTINGS
@given(st.one_of(
    documents.map(lambda data: yaml.safe_dump(data, allow_unicode=True, sort_keys=False)),
    aliased(),
    mutated(EXAMPLE),
    st.text(max_size=200),
))
def spec_loader(text: str) -> None:
    with folder() as root:
        (root / "group.yaml").write_text(text, encoding="utf-8", errors="surrogateescape")
        validate(root / "group.yaml")


def leaf_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value inside `node` (dict keys and list indexes), containers included."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    return [path] + [found for key, child in children for found in leaf_paths(child, (*path, key))]


def has(node: Any, key: Any) -> bool:
    """Whether `node[key]` exists (a dict key, or an index inside a list)."""
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)


EXAMPLE_DATA = yaml.safe_load(EXAMPLE)
EXAMPLE_PATHS = leaf_paths(EXAMPLE_DATA)[1:]


@st.composite
def perturbed(draw: st.DrawFn) -> str:
    """The vision example with a few of its values (anywhere, at any depth) replaced by values of any kind."""
    data = copy.deepcopy(EXAMPLE_DATA)
    for _ in range(draw(st.integers(1, 4))):
        *parents, last = draw(st.sampled_from(EXAMPLE_PATHS))
        node = data
        for key in parents:
            node = node[key] if has(node, key) else None
        if isinstance(node, dict) or has(node, last):
            node[last] = draw(values)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@SETTINGS
@given(perturbed())
def example_perturbed(text: str) -> None:
    """Within a copy of the example's folder, so that its files exist and the checks behind them run too."""
    (EXAMPLE_COPY / "group.yaml").write_text(text, encoding="utf-8", errors="surrogateescape")
    validate(EXAMPLE_COPY / "group.yaml")


@SETTINGS
@given(st.binary(max_size=300))
def spec_bytes(data: bytes) -> None:
    with folder() as root:
        (root / "group.yaml").write_bytes(data)
        validate(root / "group.yaml")


def field_value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[str]:
    """Text for one field of a config message: nested messages, enum names, numbers in and out of range."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.GetOptions().map_entry:
            key = st.sampled_from(['"k"', '"EXECUTION_ENV_PATH"', '""', "1"])
            value_field = field.message_type.fields_by_name["value"]
            return st.tuples(key, field_value(value_field, depth + 1)).map(
                lambda kv: f"{{ key: {kv[0]} value{kv[1]} }}")
        return message_text(field.message_type, depth + 1).map(lambda body: f" {{ {body} }}")
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = [value.name for value in field.enum_type.values]
        return st.one_of(st.sampled_from(names), st.integers(-3, 40).map(str)).map(lambda v: f": {v}")
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.sampled_from([": true", ": false", ": 1", ": yes"])
    if field.type == FieldDescriptor.TYPE_STRING or field.type == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.sampled_from(['"m"', '"python"', '"ensemble"', '"onnxruntime_onnx"', '""']),
                         st.text(max_size=8).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"')
                         ).map(lambda v: f": {v}")
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return st.sampled_from([": 0.5", ": -1", ": inf", ": nan", ": 1e400"])
    return st.one_of(st.integers(-(2**65), 2**65), st.sampled_from([-1, 0, 1, 2, 4, 8])).map(lambda v: f": {v}")


def message_text(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[str]:
    """config.pbtxt text for a message of `descriptor`: a few of its fields, nested up to a few levels."""
    if depth > 3 or not descriptor.fields:
        return st.just("")
    fields = st.lists(st.sampled_from(list(descriptor.fields)), max_size=6 if depth == 0 else 3)
    return fields.flatmap(lambda chosen: st.tuples(*(field_value(f, depth).map(lambda v, f=f: f"{f.name}{v}")
                                                     for f in chosen)).map(" ".join))


@SETTINGS
@given(st.one_of(
    message_text(mc.ModelConfig.DESCRIPTOR).map(lambda body: f'name: "m"\nbackend: "python"\n{body}\n'),
    message_text(mc.ModelConfig.DESCRIPTOR),
    mutated('name: "m"\nbackend: "python"\nmax_batch_size: 4\ninput [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] '
            '} ]\noutput [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'),
    st.text(max_size=200),
))
def config_reader(text: str) -> None:
    with folder() as root:
        (root / "repo" / "m" / "1").mkdir(parents=True)
        (root / "repo" / "m" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
        (root / "repo" / "m" / "config.pbtxt").write_text(text, encoding="utf-8", errors="surrogateescape")
        validate(root / "repo")


PROPERTIES: dict[str, Any] = {"spec_loader": spec_loader, "spec_bytes": spec_bytes, "config_reader": config_reader,
                              "example_perturbed": example_perturbed}
