"""Rules on a model folder's files: version folders, the model file in each, labels, warmup data, environments.

These need the model files, so `validate_plan(config_only=True)` skips them.
"""

from __future__ import annotations

import re

from components._internal.schemas import mc
from components.core.plan import FileSource, ModelPlan, is_version_folder
from components.core.render import EXECUTION_ENV_PARAMETER
from components.core.triton import effective_backend, is_ensemble, model_filename
from components.core.validate.report import Findings
from components.core.validate.tensors import element_count
from components.core.validate.warmup import WARMUP_FOLDER

MODEL_DIRECTORY_VARIABLE = "$$TRITON_MODEL_DIRECTORY/"
QUIET_FOLDERS = frozenset({WARMUP_FOLDER, "initial_state", "configs", "env"})
"""Non-version folders that are expected in a model folder: Triton's own, and the Python environment folder."""
PYTHON_MODEL_CLASS = re.compile(rb"\bTritonPythonModel\b")
BYTE_SIZES = {
    mc.TYPE_BOOL: 1, mc.TYPE_UINT8: 1, mc.TYPE_INT8: 1, mc.TYPE_UINT16: 2, mc.TYPE_INT16: 2, mc.TYPE_FP16: 2,
    mc.TYPE_BF16: 2, mc.TYPE_UINT32: 4, mc.TYPE_INT32: 4, mc.TYPE_FP32: 4, mc.TYPE_UINT64: 8, mc.TYPE_INT64: 8,
    mc.TYPE_FP64: 8,
}


def available_versions(model: ModelPlan) -> list[int]:
    """The versions Triton finds: the model's version folders (`is_version_folder`), in numeric order."""
    return [int(name) for name in model.version_dirs()]


def versions_to_load(model: ModelPlan, config: mc.ModelConfig) -> list[int]:
    """The versions Triton loads under the config's version policy (latest 1 when none is given)."""
    found = available_versions(model)
    policy = config.version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return found
    if choice == "specific":
        return sorted(v for v in set(policy.specific.versions) if v in found)
    latest = policy.latest.num_versions if choice == "latest" else 1
    return found[max(0, len(found) - latest):] if latest else []


def has_path(model: ModelPlan, path: str) -> bool:
    """Whether `path` (posix, inside the model folder) is a file or a folder of the model."""
    return path in model.files or path in model.empty_dirs or any(p.startswith(path + "/") for p in model.files)


def check_files(model: ModelPlan, config: mc.ModelConfig, found: Findings) -> None:
    """Version folders and the files the config refers to are present."""
    _check_version_folders(model, config, found)
    loaded = versions_to_load(model, config)
    if not is_ensemble(config):
        for version in loaded:
            _check_model_file(model, config, version, found)
    for index, output in enumerate(config.output):
        if output.label_filename and output.label_filename not in model.files:
            found.error(f"output[{output.name or index}].label_filename", f"label file {output.label_filename!r} is "
                        "not in the model folder; add it next to config.pbtxt", "files.label")
    _check_warmup_files(model, config, found)
    _check_execution_env(model, config, found)


def _check_version_folders(model: ModelPlan, config: mc.ModelConfig, found: Findings) -> None:
    for name in sorted(model.folders()):
        if is_version_folder(name) or name in QUIET_FOLDERS:
            continue
        if name.isascii() and name.isdigit():
            found.warning("", f"folder {name}/ is ignored: Triton does not read version folders with leading zeros; "
                          f"rename it {int(name)}/", "files.version_folder")
        else:
            found.warning("", f"folder {name}/ is ignored: Triton reads only numeric version folders (1/, 2/, ...)",
                          "files.version_folder")
    available = available_versions(model)
    for version in config.version_policy.specific.versions:
        if version not in available:
            found.error("version_policy.specific.versions", f"version {version} is listed but there is no folder "
                        f"{version}/; add it or remove the version", "files.version_missing")
    if not versions_to_load(model, config):
        what = "an (empty) version folder 1/" if is_ensemble(config) else "a version folder 1/ holding the model"
        found.error("version_policy" if config.HasField("version_policy") else "",
                    f"no version is available to load; Triton needs at least one version: add {what}",
                    "files.no_version")


def _check_model_file(model: ModelPlan, config: mc.ModelConfig, version: int, found: Findings) -> None:
    filename = model_filename(config)
    if filename is None:
        return
    path = f"{version}/{filename}"
    backend = effective_backend(config) or config.platform
    if not has_path(model, path):
        found.error("default_model_filename", f"version folder {version}/ has no {filename}, the file the {backend} "
                    "backend loads; put the model there or set default_model_filename", "files.model_file")
        return
    if backend == "python" and path in model.files:
        _check_python_model(path, model.files[path], found)


def _check_python_model(path: str, source: FileSource, found: Findings) -> None:
    """The Python model file defines TritonPythonModel; a file that cannot be read is reported, naming it."""
    try:
        code = source.read()
    except OSError as exc:
        found.error("default_model_filename", f"{path} cannot be read ({source.path}: "
                    f"{(exc.strerror or str(exc)).lower()}); make it readable by this user", "files.unreadable")
        return
    if not PYTHON_MODEL_CLASS.search(code):
        found.error("default_model_filename", f"{path} defines no TritonPythonModel class; the python backend "
                    "loads that class", "files.python_model")


def _check_warmup_files(model: ModelPlan, config: mc.ModelConfig, found: Findings) -> None:
    for index, sample in enumerate(config.model_warmup):
        for name in sorted(sample.inputs):
            given = sample.inputs[name]
            if given.WhichOneof("input_data_type") != "input_data_file":
                continue
            where = f"model_warmup[{sample.name or index}].inputs[{name}].input_data_file"
            path = f"{WARMUP_FOLDER}/{given.input_data_file}"
            if path not in model.files:
                found.error(where, f"warmup data file {path} is not in the model folder; Triton reads it from the "
                            "warmup/ folder", "files.warmup")
                continue
            needed = element_count(list(given.dims)) * BYTE_SIZES.get(given.data_type, 0)
            source = model.files[path]
            size = source.path.stat().st_size if source.path is not None else len(source.read())
            if needed > size:
                found.error(where, f"{path} holds {size} bytes but the sample needs {needed} "
                            f"({list(given.dims)} elements); give a larger file or smaller dims", "files.warmup")


def _check_execution_env(model: ModelPlan, config: mc.ModelConfig, found: Findings) -> None:
    if EXECUTION_ENV_PARAMETER not in config.parameters:
        return
    value = config.parameters[EXECUTION_ENV_PARAMETER].string_value
    if value.startswith(MODEL_DIRECTORY_VARIABLE) and value[len(MODEL_DIRECTORY_VARIABLE):] not in model.files:
        found.error(f"parameters[{EXECUTION_ENV_PARAMETER}]", f"{value} points into the model folder, but "
                    f"{value[len(MODEL_DIRECTORY_VARIABLE):]} is not there; add the conda-pack file",
                    "files.execution_env")
