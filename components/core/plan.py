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
from typing import TYPE_CHECKING

from google.protobuf import text_format

from components._internal.atomic import atomic_dir
from components._internal.schemas import mc
from components.core.problems import Problem, Severity, UserError, errors
from components.core.render import MAX_CONFIG_BYTES, PYTHON_STUB_NAME, config_text, parse_config
from components.core.source_files import NotUsable, SourceRoots, check_kind, kind_of, read_file
from components.core.triton import model_filename

if TYPE_CHECKING:
    from components.core.spec import GroupSpec, ModelSpec
    from components.core.spec.checks import NamedPath

CONFIG_NAME = "config.pbtxt"
SPEC_LINK_HINT = ("outside this model's source folders; copy the file in, or list its folder in the model's "
                  "allow_links_to")
FOLDER_LINK_HINT = ("outside its model folder; copy the file in (cp -L), or describe the group in a spec and list "
                    "the folder in the model's allow_links_to")
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
    """Where a repository file's bytes come from: a file on disk, or bytes made in memory.

    `origin` says where bytes in memory came from (a spec they were rendered from, the file they were read
    from), for the build summary.
    """

    path: Path | None = None
    data: bytes | None = None
    executable: bool = False
    origin: str | None = None

    def read(self, limit: int | None = None) -> bytes:
        """The bytes; from a file, read whole as `source_files.read_file` does (OSError when that refuses it)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        try:
            return read_file(self.path, limit)
        except NotUsable as exc:
            raise OSError(errno.EINVAL, exc.detail, str(self.path)) from None

    @property
    def shown_source(self) -> str:
        """Where the bytes come from, for a reader: the real file read (links resolved), or what made them."""
        if self.path is not None:
            return os.path.realpath(self.path)
        return self.origin or "made by triton-groups"


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
    """A whole repository: models by name, and the spec it came from (None for a folder).

    `read_folders` are the folders (fully resolved) whose whole content the plan took: the repository folder
    and every folder listed below it, or a spec's version folders and the folders below them. Anything
    written inside one of them would be taken by the next plan, so no build may write there.
    """

    models: dict[str, ModelPlan]
    origin: Path
    spec: GroupSpec | None = None
    problems: list[Problem] = field(default_factory=list)
    read_folders: frozenset[Path] = frozenset()

    def files(self) -> dict[str, FileSource]:
        """Every file of the repository, keyed `<model>/<path>`, sorted."""
        return {
            f"{name}/{rel}": src
            for name in sorted(self.models)
            for rel, src in sorted(self.models[name].files.items())
        }


def group_name(source: RepositoryPlan | GroupSpec) -> str:
    """The group's name, on every target: the spec's `name`, or the repository folder's name (a plan of a folder)."""
    spec = source.spec if isinstance(source, RepositoryPlan) else source
    return spec.name if spec is not None else source.origin.name


def load_plan(path: Path | str) -> RepositoryPlan:
    """A plan from a spec file or from a repository folder; UserError when neither."""
    path = Path(path)
    wanted = "give a group spec (YAML) or a Triton model repository folder"
    try:
        st = check_kind(path, "either")
    except NotUsable as exc:
        if exc.code == "missing":
            raise UserError(Problem(str(path), "", f"no such file or folder; {wanted}", "input.missing")) from None
        raise UserError(Problem(str(path), "", f"{exc.reason}; {wanted}", f"input.{exc.code}")) from None
    if stat.S_ISDIR(st.st_mode):
        return plan_from_folder(path)
    from components.core.spec import load_spec  # pydantic: only for specs, not for repository folders

    return plan_from_spec(load_spec(path))


def plan_from_spec(spec: GroupSpec) -> RepositoryPlan:
    """Lay out every model of `spec` as Triton expects: config.pbtxt, <version>/<file>, env/, stub.

    What cannot be read in a version folder (a broken link, a folder that cannot be listed) is a
    Problem in the plan's `problems`.
    """
    problems: list[Problem] = []
    folders: set[Path] = set()
    models = {model.name: _model_plan(model, spec, problems, folders) for model in spec.models}
    return RepositoryPlan(models=dict(sorted(models.items())), origin=spec.source, spec=spec, problems=problems,
                          read_folders=frozenset(folders))


def _model_plan(model: ModelSpec, spec: GroupSpec, problems: list[Problem], folders: set[Path]) -> ModelPlan:
    from components.core.render import render_config
    from components.core.spec.checks import named_paths, source_roots

    files: dict[str, FileSource] = {}
    empty_dirs: set[str] = set()
    index = spec.index_of(model)
    roots = source_roots(model, spec.resolve)
    usable = {named.field: _usable(spec, named, roots, problems)
              for named in named_paths(index, model) if named.packed}
    label = f"models[{model.name}]"
    if model.config:
        config_path = spec.resolve(model.config)
        config, error = None, f"{model.config} cannot be used (see the problem with {label}.config)"
        if usable[f"{label}.config"] is not None:
            try:
                text = read_file(config_path, MAX_CONFIG_BYTES, "a config.pbtxt")
            except NotUsable as exc:
                error = f"{config_path} {exc.reason}; give a readable config.pbtxt file"
            else:
                config, error = _parse_bytes(text)
                files[CONFIG_NAME] = FileSource(data=text, origin=os.path.realpath(config_path))
    else:
        config, error = render_config(model, spec), None
        files[CONFIG_NAME] = FileSource(data=config_text(config).encode(), origin=f"rendered from {spec.source}")
    default_name = model_filename(config) if config is not None else None
    for version in sorted(model.versions):
        found = usable[f"{label}.versions.{version}"]
        if found is None:
            continue
        source, st = found
        if stat.S_ISDIR(st.st_mode):
            listing = _walk(source, roots, problems, folders)
            if listing is None:
                continue
            files.update({f"{version}/{sub}": src for sub, src in listing.files.items()})
            empty_dirs.update(f"{version}/{sub}" for sub in listing.empty_dirs)
            if not listing.files:
                empty_dirs.add(str(version))
        else:
            files[f"{version}/{default_name or source.name}"] = _source(source, st)
    if model.platform == "ensemble" and not model.versions:
        empty_dirs.add("1")
    if model.python and model.python.execution_env and (found := usable[f"{label}.python.execution_env"]):
        files[f"env/{found[0].name}"] = _source(*found)
    if model.python and model.python.stub and (found := usable[f"{label}.python.stub"]):
        files[PYTHON_STUB_NAME] = FileSource(path=found[0], executable=True)
    for output in model.outputs:
        if output.label_filename and (found := usable[f"{label}.outputs[{output.name}].label_filename"]):
            files[found[0].name] = _source(*found)
    return ModelPlan(model.name, dict(sorted(files.items())), config, error, frozenset(empty_dirs))


def _usable(spec: GroupSpec, named: NamedPath, roots: SourceRoots,
            problems: list[Problem]) -> tuple[Path, os.stat_result] | None:
    """The located path and stat of a path the spec names, checked as `load_spec` checks it; None (and a Problem)
    when it cannot be used (a spec loaded before the file changed, or one built in Python)."""
    from components.core.spec.checks import path_problem

    path = spec.resolve(named.written)
    found = path_problem(named, path, roots)
    if found is not None:
        problems.append(Problem(spec.shown_path, named.field, *found, line=spec.line(*named.where)))
        return None
    return path, os.stat(path)


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
    real_root = root.resolve()
    models: dict[str, ModelPlan] = {}
    problems: list[Problem] = []
    folders = {real_root}
    for entry in entries:
        if not entry.is_dir():
            continue
        if entry.name in SKIPPED_NAMES or entry.name.startswith("."):
            why = "a cache folder" if entry.name in SKIPPED_NAMES else "its name starts with '.'"
            problems.append(Problem(str(entry), "", f"skipped, not read as a model ({why})", "repository.skipped",
                                    severity=Severity.WARNING))
            continue
        roots = SourceRoots.of([real_root / entry.name])
        target = roots.outside(entry)
        if target is not None:
            problems.append(_link_outside(entry, target, FOLDER_LINK_HINT))
            continue
        listing = _walk(entry, roots, problems, folders, FOLDER_LINK_HINT)
        if listing is None:
            continue
        config: mc.ModelConfig | None = None
        error: str | None = "no config.pbtxt; Triton needs one when the model config is strict"
        if CONFIG_NAME in listing.files:
            config, error = _parse_file(listing.files[CONFIG_NAME])
        elif (entry / CONFIG_NAME).is_dir():
            error = "config.pbtxt is a folder; it must be the model configuration file"
        models[entry.name] = ModelPlan(entry.name, listing.files, config, error, listing.empty_dirs)
    return RepositoryPlan(models=models, origin=real_root, problems=problems, read_folders=frozenset(folders))


def brought_config(path: Path) -> mc.ModelConfig | None:
    """A bring-your-own config.pbtxt as Triton reads it, or None when it cannot be read or parsed: the one reader
    for the places that only need the config (the plan's load reports why it cannot be used)."""
    try:
        data = read_file(path, MAX_CONFIG_BYTES)
    except (NotUsable, OSError):
        return None
    return _parse_bytes(data)[0]


def _parse_file(source: FileSource) -> tuple[mc.ModelConfig | None, str | None]:
    try:
        data = source.read(MAX_CONFIG_BYTES)
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


def _source(path: Path, st: os.stat_result) -> FileSource:
    return FileSource(path=path, executable=bool(st.st_mode & stat.S_IXUSR))


@dataclass(frozen=True)
class _Listing:
    """What a folder holds: its files (posix paths relative to it, sorted) and the empty folders below it."""

    files: dict[str, FileSource]
    empty_dirs: frozenset[str]


def _walk(folder: Path, roots: SourceRoots, problems: list[Problem], folders: set[Path],
          link_hint: str = SPEC_LINK_HINT) -> _Listing | None:
    """Every regular file below `folder`, caches left out, and the empty folders (a SavedModel's `variables/`);
    None when `folder` itself cannot be listed. What cannot be read is added to `problems`, every folder
    listed (fully resolved) to `folders`.

    Symbolic links are followed when they stay inside `roots`; a link leaving them, a link back to a folder
    that holds it, a FIFO, a device or a socket is a Problem (`link_hint` says what to do about a link).
    """
    found: dict[str, FileSource] = {}
    empty: set[str] = set()
    try:
        top = os.stat(folder)
    except OSError as exc:
        problems.append(_unreadable(folder, exc))
        return None

    def visit(current: Path, prefix: str, ancestors: frozenset[tuple[int, int]]) -> bool:
        folders.add(Path(os.path.realpath(current)))
        try:
            with os.scandir(current) as listing:
                names = sorted(entry.name for entry in listing)
        except OSError as exc:
            problems.append(_unreadable(current, exc))
            return False
        if prefix and not names:
            empty.add(prefix.rstrip("/"))
        for name in names:
            if name in SKIPPED_NAMES or name.endswith(".pyc"):
                continue
            path = current / name
            try:
                st = os.stat(path)
            except OSError as exc:
                problems.append(_unreadable(path, exc))
                continue
            target = roots.outside(path)
            if target is not None:
                problems.append(_link_outside(path, target, link_hint))
                continue
            if stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in ancestors:
                    problems.append(Problem(str(path), "", f"is a symbolic link to {os.path.realpath(path)}, a "
                                            "folder that holds it (a loop); remove it", "repository.link_loop"))
                    continue
                visit(path, f"{prefix}{name}/", ancestors | {(st.st_dev, st.st_ino)})
            elif stat.S_ISREG(st.st_mode):
                found[f"{prefix}{name}"] = _source(path, st)
            else:
                problems.append(Problem(str(path), "", f"is {kind_of(st.st_mode)}, not a regular file, so it "
                                        "cannot be served; remove it", "repository.not_a_file"))
        return True

    if not visit(folder, "", frozenset({(top.st_dev, top.st_ino)})):
        return None
    return _Listing(dict(sorted(found.items())), frozenset(empty))


def _link_outside(path: Path, target: Path, hint: str) -> Problem:
    return Problem(str(path), "", f"is a symbolic link to {target}, {hint}", "repository.link_outside")


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
