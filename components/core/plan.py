"""A Triton model repository as a plan: every file it holds and where that file's bytes come from.

A plan is made from a spec (`plan_from_spec`) or from an existing repository folder
(`plan_from_folder`); `load_plan` picks by the path given. The validator reads plans, the packager
zips them without copying, and `materialize` writes one out as a folder.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from components._internal.atomic import atomic_dir
from components.core.problems import Problem, UserError
from components.core.render import PYTHON_STUB_NAME, config_text, parse_config, render_config
from components.core.spec import DEFAULT_MODEL_FILENAMES, GroupSpec, ModelSpec, load_spec

CONFIG_NAME = "config.pbtxt"
SKIPPED_NAMES = frozenset({"__pycache__", ".DS_Store"})
VERSION_FOLDER_NAME = re.compile(r"0|[1-9][0-9]*")
"""A folder name Triton reads as a model version: a decimal number without leading zeros (ASCII digits only)."""


def is_version_folder(name: str) -> bool:
    """Whether Triton loads the folder `name` of a model folder as a version.

    Triton (core, `VersionsToLoad`) skips a name longer than one character that starts with '0'
    (with a warning), and one that does not convert to an integer; `1/`, `2/`, `10/` and `0/` are
    versions, `01/`, `v1/` and `٣/` are not.
    """
    return VERSION_FOLDER_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class FileSource:
    """Where a repository file's bytes come from: a file on disk, or bytes made in memory."""

    path: Path | None = None
    data: bytes | None = None
    executable: bool = False

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()  # type: ignore[union-attr]


@dataclass
class ModelPlan:
    """One model folder. `files` maps a path inside the folder (posix) to its source.

    `config` is None when config.pbtxt is missing or does not parse; `config_error` then says why.
    """

    name: str
    files: dict[str, FileSource]
    config: mc.ModelConfig | None
    config_error: str | None = None
    empty_dirs: frozenset[str] = frozenset()

    @property
    def config_label(self) -> str:
        """How messages name this model's config: `<model>/config.pbtxt`."""
        return f"{self.name}/{CONFIG_NAME}"

    def folders(self) -> set[str]:
        """The names of the folders directly inside the model folder (empty ones included)."""
        return {p.split("/", 1)[0] for p in self.files if "/" in p} | {d.split("/", 1)[0] for d in self.empty_dirs}

    def version_dirs(self) -> list[str]:
        """The folders Triton loads as versions (`is_version_folder`), in numeric order."""
        return sorted((name for name in self.folders() if is_version_folder(name)), key=int)


@dataclass
class RepositoryPlan:
    """A whole repository: models by name, and the spec it came from (None for a folder)."""

    models: dict[str, ModelPlan]
    origin: Path
    spec: GroupSpec | None = None
    problems: list[Problem] = field(default_factory=list)

    def files(self) -> dict[str, FileSource]:
        """Every file of the repository, keyed `<model>/<path>`, sorted."""
        return {
            f"{name}/{rel}": src
            for name in sorted(self.models)
            for rel, src in sorted(self.models[name].files.items())
        }


def load_plan(path: Path | str) -> RepositoryPlan:
    """A plan from a spec file or from a repository folder; UserError when neither."""
    path = Path(path)
    if path.is_dir():
        return plan_from_folder(path)
    if path.is_file():
        return plan_from_spec(load_spec(path))
    raise UserError(Problem(str(path), "", "no such file or folder; give a group spec (YAML) or a Triton "
                            "model repository folder", "input.missing"))


def plan_from_spec(spec: GroupSpec) -> RepositoryPlan:
    """Lay out every model of `spec` as Triton expects: config.pbtxt, <version>/<file>, env/, stub."""
    models = {model.name: _model_plan(model, spec) for model in spec.models}
    return RepositoryPlan(models=dict(sorted(models.items())), origin=spec.source, spec=spec)


def _model_plan(model: ModelSpec, spec: GroupSpec) -> ModelPlan:
    files: dict[str, FileSource] = {}
    empty_dirs: set[str] = set()
    if model.config:
        text = spec.resolve(model.config).read_bytes()
        config, error = _parse_bytes(text)
        files[CONFIG_NAME] = FileSource(data=text)
    else:
        config, error = render_config(model, spec), None
        files[CONFIG_NAME] = FileSource(data=config_text(config).encode())
    default_name = _default_filename(model, config)
    for version, rel in sorted(model.versions.items()):
        source = spec.resolve(rel)
        if source.is_dir():
            entries = _walk(source)
            files.update({f"{version}/{sub}": src for sub, src in entries.items()})
            empty_dirs.update(f"{version}/{sub}" for sub in _empty_dirs(source))
            if not entries:
                empty_dirs.add(str(version))
        else:
            files[f"{version}/{default_name or source.name}"] = _source(source)
    if model.platform == "ensemble" and not model.versions:
        empty_dirs.add("1")
    if model.python and model.python.execution_env:
        env = spec.resolve(model.python.execution_env)
        files[f"env/{env.name}"] = _source(env)
    if model.python and model.python.stub:
        files[PYTHON_STUB_NAME] = FileSource(path=spec.resolve(model.python.stub), executable=True)
    for output in model.outputs:
        if output.label_filename:
            label = spec.resolve(output.label_filename)
            files[label.name] = _source(label)
    return ModelPlan(model.name, dict(sorted(files.items())), config, error, frozenset(empty_dirs))


def _default_filename(model: ModelSpec, config: mc.ModelConfig | None) -> str | None:
    if config is not None and config.default_model_filename:
        return config.default_model_filename
    if model.platform in ("tensorflow_savedmodel", "tensorflow_graphdef"):
        return DEFAULT_MODEL_FILENAMES[model.platform]
    backend = model.effective_backend or (config.backend if config is not None else None)
    if not backend and config is not None:
        backend = {"onnxruntime_onnx": "onnxruntime", "pytorch_libtorch": "pytorch",
                   "tensorrt_plan": "tensorrt"}.get(config.platform)
    return DEFAULT_MODEL_FILENAMES.get(backend or "")


def plan_from_folder(root: Path) -> RepositoryPlan:
    """Read an existing repository folder as it is: each subfolder is a model (files at the top are ignored)."""
    models: dict[str, ModelPlan] = {}
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or entry.name in SKIPPED_NAMES or entry.name.startswith("."):
            continue
        files = _walk(entry)
        config: mc.ModelConfig | None = None
        error: str | None = "no config.pbtxt; Triton needs one when the model config is strict"
        if CONFIG_NAME in files:
            config, error = _parse_bytes(files[CONFIG_NAME].read())
        models[entry.name] = ModelPlan(entry.name, files, config, error, _empty_dirs(entry))
    return RepositoryPlan(models=models, origin=root.resolve())


def _parse_bytes(data: bytes) -> tuple[mc.ModelConfig | None, str | None]:
    try:
        return parse_config(data.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, "config.pbtxt is not UTF-8 text"
    except text_format.ParseError as exc:
        return None, f"does not parse against Triton's model configuration schema: {exc}"


def _source(path: Path) -> FileSource:
    return FileSource(path=path, executable=bool(path.stat().st_mode & stat.S_IXUSR))


def _walk(folder: Path) -> dict[str, FileSource]:
    """Every file below `folder` (following links), keyed by posix path, sorted; caches left out."""
    found: dict[str, FileSource] = {}
    for current, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
        base = Path(current)
        for name in sorted(names):
            if name in SKIPPED_NAMES or name.endswith(".pyc"):
                continue
            path = base / name
            found[path.relative_to(folder).as_posix()] = _source(path)
    return dict(sorted(found.items()))


def _empty_dirs(folder: Path) -> frozenset[str]:
    """The empty folders below `folder` (e.g. a SavedModel's `variables/`), as posix paths relative to it."""
    return frozenset(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_dir() and not any(p.iterdir()))


def materialize(plan: RepositoryPlan, target: Path) -> Path:
    """Write `plan` as a repository folder at `target`, replacing it only once complete."""
    with atomic_dir(target) as tmp:
        for model in plan.models.values():
            for rel in model.empty_dirs:
                (tmp / model.name / rel).mkdir(parents=True, exist_ok=True)
            for rel, source in model.files.items():
                dest = tmp / model.name / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                if source.path is not None:
                    shutil.copyfile(source.path, dest)
                else:
                    dest.write_bytes(source.data or b"")
                os.chmod(dest, 0o755 if source.executable else 0o644)
    return target
