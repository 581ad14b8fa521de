"""A Triton model repository as a plan: every file it holds and where that file's bytes come from.

A plan is made from a spec (`plan_from_spec`) or from an existing repository folder
(`plan_from_folder`); `load_plan` picks by the path given. The validator reads plans, the packager
zips them without copying, and `materialize` writes one out as a folder.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format

from components._internal.atomic import atomic_dir
from components._internal.schemas import mc
from components.core.problems import Problem, UserError, errors
from components.core.render import PYTHON_STUB_NAME, config_text, model_filename, parse_config, render_config
from components.core.spec import GroupSpec, ModelSpec, load_spec

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
    wanted = "give a group spec (YAML) or a Triton model repository folder"
    if path.exists():
        raise UserError(Problem(str(path), "", f"is not a regular file or folder (a device, FIFO or socket); {wanted}",
                                "input.not_a_file"))
    if path.is_symlink():
        raise UserError(Problem(str(path), "", f"is a broken symbolic link: its target {os.readlink(path)} does not "
                                f"exist; fix the link or {wanted}", "input.broken_link"))
    raise UserError(Problem(str(path), "", f"no such file or folder; {wanted}", "input.missing"))


def plan_from_spec(spec: GroupSpec) -> RepositoryPlan:
    """Lay out every model of `spec` as Triton expects: config.pbtxt, <version>/<file>, env/, stub.

    What cannot be read in a version folder (a broken link, a folder that cannot be listed) is a
    Problem in the plan's `problems`.
    """
    problems: list[Problem] = []
    models = {model.name: _model_plan(model, spec, problems) for model in spec.models}
    return RepositoryPlan(models=dict(sorted(models.items())), origin=spec.source, spec=spec, problems=problems)


def _model_plan(model: ModelSpec, spec: GroupSpec, problems: list[Problem]) -> ModelPlan:
    files: dict[str, FileSource] = {}
    empty_dirs: set[str] = set()
    if model.config:
        config_path = spec.resolve(model.config)
        try:
            text = config_path.read_bytes()
        except OSError as exc:
            config, error = None, f"{config_path} cannot be read ({_reason(exc)}); give a readable config.pbtxt file"
        else:
            config, error = _parse_bytes(text)
            files[CONFIG_NAME] = FileSource(data=text)
    else:
        config, error = render_config(model, spec), None
        files[CONFIG_NAME] = FileSource(data=config_text(config).encode())
    default_name = model_filename(config) if config is not None else None
    for version, rel in sorted(model.versions.items()):
        source = spec.resolve(rel)
        if source.is_dir():
            listing = _walk(source, problems)
            if listing is None:
                continue
            files.update({f"{version}/{sub}": src for sub, src in listing.files.items()})
            empty_dirs.update(f"{version}/{sub}" for sub in listing.empty_dirs)
            if not listing.files:
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


def plan_from_folder(root: Path) -> RepositoryPlan:
    """Read an existing repository folder as it is: each subfolder is a model (files at the top are ignored).

    UserError when `root` cannot be listed. What cannot be read below it is a Problem in the plan's
    `problems`: a broken link, a file that is not a regular file, a folder that cannot be listed (a
    model folder that cannot be listed is left out of `models`), a config.pbtxt that cannot be read.
    """
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise UserError(_unreadable(root, exc)) from None
    models: dict[str, ModelPlan] = {}
    problems: list[Problem] = []
    for entry in entries:
        if not entry.is_dir() or entry.name in SKIPPED_NAMES or entry.name.startswith("."):
            continue
        listing = _walk(entry, problems)
        if listing is None:
            continue
        config: mc.ModelConfig | None = None
        error: str | None = "no config.pbtxt; Triton needs one when the model config is strict"
        if CONFIG_NAME in listing.files:
            config, error = _parse_file(listing.files[CONFIG_NAME])
        elif (entry / CONFIG_NAME).is_dir():
            error = "config.pbtxt is a folder; it must be the model configuration file"
        models[entry.name] = ModelPlan(entry.name, listing.files, config, error, listing.empty_dirs)
    return RepositoryPlan(models=models, origin=root.resolve(), problems=problems)


def _parse_file(source: FileSource) -> tuple[mc.ModelConfig | None, str | None]:
    try:
        data = source.read()
    except OSError as exc:
        return None, f"config.pbtxt cannot be read ({_reason(exc)}); make it readable by this user"
    return _parse_bytes(data)


def _parse_bytes(data: bytes) -> tuple[mc.ModelConfig | None, str | None]:
    try:
        return parse_config(data.decode("utf-8")), None
    except UnicodeDecodeError as exc:
        return None, (f"config.pbtxt is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save "
                      "it as UTF-8")
    except text_format.ParseError as exc:
        return None, f"does not parse against Triton's model configuration schema: {exc}"


def _source(path: Path) -> FileSource:
    return FileSource(path=path, executable=bool(path.stat().st_mode & stat.S_IXUSR))


@dataclass(frozen=True)
class _Listing:
    """What a folder holds: its files (posix paths relative to it, sorted) and the empty folders below it."""

    files: dict[str, FileSource]
    empty_dirs: frozenset[str]


def _walk(folder: Path, problems: list[Problem]) -> _Listing | None:
    """Every file below `folder` (following links), caches left out, and the empty folders (a SavedModel's
    `variables/`); None when `folder` itself cannot be listed. What cannot be read is added to `problems`."""
    found: dict[str, FileSource] = {}
    empty: set[str] = set()
    unlisted: list[OSError] = []
    for current, dirs, names in os.walk(folder, onerror=unlisted.append, followlinks=True):
        base = Path(current)
        if base != folder and not dirs and not names:
            empty.add(base.relative_to(folder).as_posix())
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
        for name in sorted(names):
            if name in SKIPPED_NAMES or name.endswith(".pyc"):
                continue
            path = base / name
            try:
                source = _source(path)
            except OSError as exc:
                problems.append(_unreadable(path, exc))
                continue
            if not path.is_file():
                problems.append(Problem(str(path), "", "is not a regular file (a device, FIFO or socket), so it "
                                        "cannot be served; remove it", "repository.not_a_file"))
                continue
            found[path.relative_to(folder).as_posix()] = source
    problems += [_unreadable(Path(error.filename), error) for error in unlisted]
    if any(Path(error.filename) == folder for error in unlisted):
        return None
    return _Listing(dict(sorted(found.items())), frozenset(empty))


def _unreadable(path: Path, exc: OSError) -> Problem:
    """The Problem of a file or folder of a repository that cannot be read: a broken link, or why not."""
    if exc.errno == errno.ENOENT and path.is_symlink():
        return Problem(str(path), "", f"is a broken symbolic link: its target {os.readlink(path)} does not exist; "
                       "fix the link or remove it", "repository.broken_link")
    return Problem(str(path), "", f"cannot be read ({_reason(exc)}); make it readable by this user or remove it",
                   "repository.unreadable")


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def require_complete(plan: RepositoryPlan) -> None:
    """UserError listing the errors in `plan.problems` (what could not be read), if any: a repository written or
    packaged from that plan would lack those files."""
    found = errors(plan.problems)
    if found:
        raise UserError(found)


def materialize(plan: RepositoryPlan, target: Path) -> Path:
    """Write `plan` as a repository folder at `target`, replacing it only once complete (`require_complete` first)."""
    require_complete(plan)
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
