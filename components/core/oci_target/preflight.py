"""Pre-flight checks of an OCI stack against its group, before any OCI API call.

`preflight(settings, source)` returns every problem at once; each names the stack file and key
(`stacks/Pulumi.dev.yaml: triton-groups:deployment.serverPort: ...`) or the spec field, and says what to do.
The limits are the service's (from the OCI SDK's documentation of the model deployment API): CMD and
ENTRYPOINT together under 2048 bytes, environment variables under 2048 bytes, ports in 1024-65535 except
24224, 8446 and 8447. GPU instance groups are checked against the shape (`shapes.gpu_problems`), and a
built image's Triton release against the releases whose runtime packages are known (`dockerfile.RELEASES`).
The SDK documents no display-name rule for Data Science resources: the one checked here
(1 to 255 characters, no control characters) is an UNCONFIRMED conservative reading.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from components.core.oci_target.command import (
    CONTAINER_TYPE,
    container_entrypoint,
    container_environment,
    triton_command,
)
from components.core.oci_target.dockerfile import NGC_BACKENDS, RELEASES, min_image_for, release_of
from components.core.oci_target.group import GroupSource, ModelView, model_views
from components.core.oci_target.names import deployed_models, resource_names
from components.core.oci_target.settings import IMAGE_DIGEST, OciSettings, image_digest_problem
from components.core.oci_target.shapes import gpu_problems
from components.core.problems import Problem, Severity
from components.core.spec import GroupSpec
from components.core.tritonserver_flags import MANAGED_FLAGS, flag_name

CONTAINER_LIMIT_BYTES = 2048
RESERVED_PORTS = frozenset({24224, 8446, 8447})
DISPLAY_NAME_MAX = 255
OCIR_IMAGE = re.compile(r"^[a-z0-9-]+\.ocir\.io/[^/]+/.+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*[A-Za-z0-9]$")
ENV_KEY_MAX = 31
MIN_COOL_DOWN_SECONDS = 300
POLICY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
"""A conservative reading of OCI's policy name rule (UNCONFIRMED: the SDK documents none)."""

OCID_KINDS: tuple[tuple[tuple[str, ...], tuple[str, ...], str, bool], ...] = (
    (("compartmentId",), ("compartment", "tenancy"), "compartment", True),
    (("projectId",), ("datascienceproject",), "Data Science project", True),
    (("deployment", "subnetId"), ("subnet",), "subnet", True),
    (("deployment", "privateEndpointId"), ("datascienceprivateendpoint",), "Data Science private endpoint", False),
    (("logging", "logGroupId"), ("loggroup",), "log group", True),
    (("logging", "accessLogId"), ("log",), "log", True),
    (("logging", "predictLogId"), ("log",), "log", True),
    (("iam", "compartmentId"), ("compartment", "tenancy"), "compartment", True),
)
"""Key path, the OCID types it takes, what it is, and whether a mismatch is an error (else a warning)."""


def preflight(settings: OciSettings, source: GroupSource) -> list[Problem]:
    """Every problem of deploying `source` with `settings`; an empty list means go."""
    views = model_views(source)
    deployed = set(deployed_models(settings, source))
    return [
        *_check_models(settings, source, views),
        *_check_image(settings, {view.backend for view in views if view.backend and view.name in deployed}),
        *_check_container(settings, source),
        *_check_shape_and_scaling(settings),
        *gpu_problems(settings, source, deployed),
        *_check_display_names(settings, source),
        *_check_iam(settings),
        *_check_ocids(settings),
        *_check_smoke(settings),
    ]


def artifact_problems(settings: OciSettings, sizes: Mapping[str, int]) -> list[Problem]:
    """Artifacts (name -> zip size in bytes) too large to upload inline when no Object Storage bucket is set."""
    if settings.artifact.object_storage is not None:
        return []
    limit = settings.artifact.inline_limit_bytes
    return [
        settings.problem(
            ("artifact", "objectStorage"),
            f"artifact {name} is {size / 2**20:.1f} MiB, above the inline upload limit of "
            f"{settings.artifact.inline_limit_mib} MiB; give artifact.objectStorage.bucket to upload it "
            "through Object Storage (or raise artifact.inlineLimitMib)",
            "oci.artifact_too_large",
        )
        for name, size in sorted(sizes.items())
        if size > limit
    ]


def _check_models(settings: OciSettings, source: GroupSource, views: list[ModelView]) -> list[Problem]:
    problems: list[Problem] = []
    spec = source if isinstance(source, GroupSpec) else source.spec

    spec_index = {model.name: index for index, model in reversed(list(enumerate(spec.models)))} if spec else {}

    def spec_problem(index: int, field: str, message: str, code: str, severity: Severity = Severity.ERROR) -> None:
        """A problem of the group's spec; `index` is the model's place among `views` (a plan's order may differ)."""
        if spec is not None and isinstance(source, GroupSpec):
            line = spec.line("models", index, "name")
        else:
            line = spec.line("models", spec_index[views[index].name], "name") if spec is not None else None
        problems.append(Problem(settings.spec, field, message, code, line=line, severity=severity))

    seen: dict[str, str] = {}
    for index, view in enumerate(views):
        folded = view.name.casefold()
        if folded in seen:
            same = seen[folded] == view.name
            spec_problem(
                index, f"models[{view.name}].name",
                f"inference key {view.name!r} is used twice; OCI routes requests by inference key, so each model "
                "name must be unique" if same else
                f"{view.name!r} and {seen[folded]!r} differ only by case; as inference keys and folder names they "
                "may collide: rename one",
                "oci.duplicate_inference_key", Severity.ERROR if same else Severity.WARNING,
            )
        seen.setdefault(folded, view.name)

    by_name = {view.name: view for view in views}
    deployed = deployed_models(settings, source)
    for index, name in enumerate(settings.models or []):
        if name not in by_name:
            problems.append(settings.problem(
                ("models", index), f"no model {name!r} in the group; its models are {sorted(by_name)}",
                "oci.unknown_model"))
        elif name in (settings.models or [])[:index]:
            problems.append(settings.problem(("models", index), f"{name!r} is listed twice; list it once",
                                             "oci.model_listed_twice"))
    for index, view in enumerate(views):
        if view.name not in deployed:
            continue
        for step in view.steps:
            if step not in by_name:
                spec_problem(index, f"models[{view.name}].ensemble.steps",
                             f"ensemble {view.name} calls model {step!r}, which is not in the group; add it",
                             "oci.ensemble_step_missing")
            elif step not in deployed:
                problems.append(settings.problem(
                    ("models",), f"ensemble {view.name} calls {step!r}, which is not deployed; add {step!r} to "
                    "models (or remove models to deploy the whole group)", "oci.ensemble_step_not_deployed"))
    return problems


def _check_image(settings: OciSettings, backends: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    image = settings.image
    if "tensorrt" in backends and not settings.deployment.shape.is_gpu:
        problems.append(settings.problem(
            ("deployment", "shape", "instanceShapeName"),
            f"TensorRT models run only on GPUs, and {settings.deployment.shape.instance_shape_name} has none; "
            "choose a GPU shape (VM.GPU...)", "oci.tensorrt_needs_gpu"))
    if image.name is not None:
        if (reason := image_digest_problem(image.digest)) is not None:
            problems.append(settings.problem(("image", "digest"), reason, IMAGE_DIGEST))
        name, _, pinned = image.name.partition("@")
        if pinned and pinned != image.digest:
            problems.append(settings.problem(
                ("image", "name"), f"the name is pinned to {pinned} but image.digest is {image.digest}; "
                "remove the @digest from the name", "oci.image_digest_mismatch"))
        if not OCIR_IMAGE.match(name):
            problems.append(settings.problem(
                ("image", "name"), f"{name!r} is not an OCIR image with a tag; model deployments pull only from "
                "OCIR: <region-key>.ocir.io/<namespace>/<repository>:<tag>", "oci.image_name"))
        return problems

    build = image.build
    assert build is not None
    if settings.resolved_region_key is None:
        problems.append(settings.problem(
            ("regionKey",), "the OCIR registry of the image needs a region key: give regionKey (e.g. iad) or a "
            "known region (e.g. us-ashburn-1)", "oci.region_key"))
    problems += _check_region(settings)
    if not REPOSITORY.match(build.repository):
        problems.append(settings.problem(
            ("image", "build", "repository"), f"{build.repository!r} is not a repository name: lowercase letters, "
            "digits and . _ - separators, parts joined by /", "oci.repository"))
    if not TAG.match(build.tag):
        problems.append(settings.problem(
            ("image", "build", "tag"), f"{build.tag!r} is not an image tag: up to 128 letters, digits, _ . -, "
            "not starting with . or -", "oci.tag"))
    if "/" not in build.username:
        problems.append(settings.problem(
            ("image", "build", "username"), "an OCIR login is <tenancy-namespace>/<user name> (for federated "
            "users <namespace>/oracleidentitycloudservice/<user name>)", "oci.ocir_username"))
    elif build.namespace and not build.username.startswith(f"{build.namespace}/"):
        problems.append(settings.problem(
            ("image", "build", "username"), f"the login must start with the namespace: {build.namespace}/...",
            "oci.ocir_username"))
    if build.min_image is None and min_image_for(build.base_image) is None:
        problems.append(settings.problem(
            ("image", "build", "minImage"), f"cannot tell the -min image of {build.base_image!r}; give minImage "
            "(e.g. nvcr.io/nvidia/tritonserver:24.08-py3-min)", "oci.min_image"))
    release = release_of(build.base_image, build.triton_release)
    if release is None:
        problems.append(settings.problem(
            ("image", "build", "tritonRelease"), f"cannot tell the Triton release of {build.base_image!r} from its "
            f"tag; give tritonRelease (one of {', '.join(RELEASES)})", "oci.triton_release"))
    elif release not in RELEASES:
        problems.append(settings.problem(
            ("image", "build", "tritonRelease" if build.triton_release else "baseImage"),
            f"Triton {release} is not a release triton-groups knows the runtime packages of; use one of "
            f"{', '.join(RELEASES)} (or bring your own image with image.name and image.digest)",
            "oci.triton_release"))
    if "@sha256:" not in build.base_image:
        problems.append(settings.problem(
            ("image", "build", "baseImage"), "not pinned by digest: a rebuild may pick a different image; append "
            "@sha256:<digest>", "oci.base_image_unpinned", warning=True))
    for backend in sorted(backends - NGC_BACKENDS):
        problems.append(settings.problem(
            ("image", "build", "baseImage"), f"backend {backend!r} is not in NGC's Triton image; the build copies "
            "it from baseImage, which must then hold it", "oci.backend_unknown", warning=True))
    arm = build.platform == "linux/arm64"
    if arm != settings.deployment.shape.is_arm:
        problems.append(settings.problem(
            ("image", "build", "platform"), f"{settings.deployment.shape.instance_shape_name} runs "
            f"{'linux/arm64' if settings.deployment.shape.is_arm else 'linux/amd64'} images, not {build.platform}",
            "oci.platform"))
    return problems


def _check_region(settings: OciSettings) -> list[Problem]:
    import oci.regions

    problems = []
    if settings.region and settings.region not in oci.regions.REGIONS:
        problems.append(settings.problem(
            ("region",), f"{settings.region!r} is not a region this OCI SDK knows (e.g. us-ashburn-1); check "
            "the spelling", "oci.region", warning=True))
    known = oci.regions.REGIONS_SHORT_NAMES.get((settings.region_key or "").lower())
    if settings.region and settings.region_key and known and known != settings.region:
        problems.append(settings.problem(
            ("regionKey",), f"{settings.region_key} is the key of {known}, not of {settings.region}",
            "oci.region_key"))
    return problems


def _check_container(settings: OciSettings, source: GroupSource) -> list[Problem]:
    problems: list[Problem] = []
    deployment = settings.deployment
    size = container_command_size(settings, source)
    if size >= CONTAINER_LIMIT_BYTES:
        problems.append(settings.problem(
            ("deployment", "serverArgs"), f"the container entrypoint and command are {size} bytes; OCI takes under "
            f"{CONTAINER_LIMIT_BYTES} for both together: shorten serverArgs (here and in the spec's server_args)",
            "oci.command_too_long"))
    spec = source if isinstance(source, GroupSpec) else source.spec
    for index, arg in enumerate(spec.server_args if spec else []):
        if flag_name(arg) in MANAGED_FLAGS:
            problems.append(Problem(settings.spec, f"server_args[{index}]", _managed_flag_message(arg),
                                    "oci.managed_flag", line=spec.line("server_args", index) if spec else None))
    for index, arg in enumerate(deployment.server_args):
        if flag_name(arg) in MANAGED_FLAGS:
            problems.append(settings.problem(("deployment", "serverArgs", index), _managed_flag_message(arg),
                                             "oci.managed_flag"))

    for key in deployment.environment:
        loc = ("deployment", "environment", key)
        if key == CONTAINER_TYPE:
            problems.append(settings.problem(loc, "CONTAINER_TYPE=TRITON is set by triton-groups; remove it",
                                             "oci.env_reserved"))
        elif not ENV_KEY.match(key) or len(key) > ENV_KEY_MAX:
            problems.append(settings.problem(
                loc, f"OCI takes variable names of 2 to {ENV_KEY_MAX} letters, digits and _, starting with a "
                "letter and not ending with _", "oci.env_key"))
    env_size = _json_size(container_environment(settings))
    if env_size >= CONTAINER_LIMIT_BYTES:
        problems.append(settings.problem(
            ("deployment", "environment"), f"the environment variables are {env_size} bytes; OCI takes under "
            f"{CONTAINER_LIMIT_BYTES} in total: remove some", "oci.env_too_large"))

    for field, port in (("serverPort", deployment.server_port), ("healthCheckPort", deployment.health_check_port)):
        if not 1024 <= port <= 65535 or port in RESERVED_PORTS:
            problems.append(settings.problem(
                ("deployment", field), f"{port} cannot be used: OCI takes ports 1024 to 65535 except "
                f"{', '.join(map(str, sorted(RESERVED_PORTS)))}", "oci.port"))
    if deployment.health_check_port != deployment.server_port:
        problems.append(settings.problem(
            ("deployment", "healthCheckPort"), f"Triton answers health checks on its HTTP port "
            f"({deployment.server_port}, serverPort); set healthCheckPort to the same", "oci.health_port"))
    return problems


def container_command_size(settings: OciSettings, source: GroupSource | None) -> int:
    """Bytes of the container's ENTRYPOINT plus CMD as the API receives them (compact JSON, UTF-8)."""
    return _json_size(container_entrypoint(settings)) + _json_size(triton_command(source, settings))


def _managed_flag_message(arg: str) -> str:
    return (f"{flag_name(arg)} is set by triton-groups (the repository is the one deployment.repositoryDir "
            "links every model into, the HTTP port deployment.serverPort); remove it")


def _check_shape_and_scaling(settings: OciSettings) -> list[Problem]:
    problems: list[Problem] = []
    shape = settings.deployment.shape
    at = ("deployment", "shape")
    if shape.is_flex:
        for field, value in (("ocpus", shape.ocpus), ("memoryInGbs", shape.memory_in_gbs)):
            if value is None:
                problems.append(settings.problem(
                    (*at, field), f"{shape.instance_shape_name} is a flexible shape: give {field}", "oci.flex_shape"))
    else:
        for field, value in (("ocpus", shape.ocpus), ("memoryInGbs", shape.memory_in_gbs)):
            if value is not None:
                problems.append(settings.problem(
                    (*at, field), f"{shape.instance_shape_name} has a fixed size; only flexible shapes (*.Flex) "
                    f"take {field}: remove it", "oci.fixed_shape"))

    auto = settings.deployment.scaling.autoscaling
    if auto is None:
        return problems
    at = ("deployment", "scaling", "autoscaling")
    if auto.min_instances > auto.max_instances:
        problems.append(settings.problem(
            (*at, "minInstances"), f"minInstances ({auto.min_instances}) is above maxInstances "
            f"({auto.max_instances})", "oci.autoscaling_range"))
    elif not auto.min_instances <= auto.initial <= auto.max_instances:
        problems.append(settings.problem(
            (*at, "initialInstances"), f"initialInstances ({auto.initial}) must be between minInstances and "
            "maxInstances", "oci.autoscaling_range"))
    if auto.scale_in_cpu_percent >= auto.scale_out_cpu_percent:
        problems.append(settings.problem(
            (*at, "scaleInCpuPercent"), f"scaleInCpuPercent ({auto.scale_in_cpu_percent}) must be below "
            f"scaleOutCpuPercent ({auto.scale_out_cpu_percent})", "oci.autoscaling_thresholds"))
    if auto.cool_down_seconds < MIN_COOL_DOWN_SECONDS:
        problems.append(settings.problem(
            (*at, "coolDownSeconds"), f"OCI's minimum cool-down is {MIN_COOL_DOWN_SECONDS} seconds",
            "oci.autoscaling_cool_down"))
    return problems


def display_name_problem(name: str) -> str | None:
    """Why `name` cannot be an OCI display name, or None."""
    if not 1 <= len(name) <= DISPLAY_NAME_MAX:
        return f"a display name has 1 to {DISPLAY_NAME_MAX} characters, this one {len(name)}"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "a display name cannot hold control characters (tabs, newlines, ...)"
    return None


def _check_display_names(settings: OciSettings, source: GroupSource) -> list[Problem]:
    names = resource_names(settings, source)
    given: list[tuple[tuple[str, ...], str]] = []
    if names.project is not None:
        given.append((("project", "displayName"), names.project))
    derived = [names.model_group, *names.models.values()]
    if settings.deployment.display_name is not None:
        given.append((("deployment", "displayName"), names.deployment))
    else:
        derived.append(names.deployment)
    problems = [
        settings.problem(loc, reason, "oci.display_name")
        for loc, name in given
        if (reason := display_name_problem(name)) is not None
    ]
    bad = next((name for name in derived if display_name_problem(name)), None)
    if bad is not None:
        problems.append(Problem(
            settings.spec, "", f"the OCI display name {bad!r}, made from the group's name, is not valid: "
            f"{display_name_problem(bad)}; rename the group (or its folder)", "oci.display_name"))
    return problems


def _check_ocids(settings: OciSettings) -> list[Problem]:
    data = settings.model_dump(by_alias=True)
    problems = []
    for loc, kinds, what, is_error in OCID_KINDS:
        value: Any = data
        for part in loc:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        parts = str(value).split(".")
        if len(parts) < 5 or parts[0] != "ocid1" or parts[1] not in kinds or not parts[-1]:
            problems.append(settings.problem(
                loc, f"{value!r} is not a {what} OCID (ocid1.{kinds[0]}.<realm>...); copy it from the console",
                "oci.ocid", warning=not is_error))
    return problems


def _check_iam(settings: OciSettings) -> list[Problem]:
    iam = settings.iam
    problems = []
    if iam.statements is not None and not iam.statements:
        problems.append(settings.problem(("iam", "statements"), "an empty list creates a policy that allows "
                                         "nothing; remove statements to use the generated ones", "oci.iam"))
    for index, statement in enumerate(iam.statements or []):
        if not statement.strip().lower().startswith(("allow ", "endorse ", "admit ", "define ")):
            problems.append(settings.problem(("iam", "statements", index), "an OCI policy statement starts with "
                                             "Allow, Endorse, Admit or Define", "oci.iam"))
    if iam.name is not None and not POLICY_NAME.match(iam.name):
        problems.append(settings.problem(("iam", "name"), "a policy name has 1 to 100 letters, digits, '-', '_' "
                                         "or '.'", "oci.iam"))
    return problems


def _check_smoke(settings: OciSettings) -> list[Problem]:
    smoke = settings.smoke
    problems = []
    headers = smoke.headers
    if not headers.model_key and not headers.model_name:
        problems.append(settings.problem(
            ("smoke", "headers"), "with neither modelKey nor modelName headers, requests cannot be routed to a "
            "model; give at least one", "oci.routing_headers"))
    if smoke.auth != "api_key":
        return problems
    import oci.config
    import oci.exceptions

    path = os.path.expanduser(smoke.config_file)
    try:
        config = oci.config.from_file(path, smoke.profile)
        oci.config.validate_config(config)
    except oci.exceptions.ConfigFileNotFound:
        problems.append(settings.problem(
            ("smoke", "configFile"), f"no OCI config file at {smoke.config_file}; create one (`oci setup config`) "
            "or use smoke.auth: resource_principal inside OCI", "oci.config_file"))
    except oci.exceptions.ProfileNotFound:
        problems.append(settings.problem(
            ("smoke", "profile"), f"no profile [{smoke.profile}] in {smoke.config_file}", "oci.config_profile"))
    except (oci.exceptions.InvalidKeyFilePath, oci.exceptions.InvalidConfig, ValueError) as exc:
        problems.append(settings.problem(
            ("smoke", "profile"), f"profile [{smoke.profile}] of {smoke.config_file} is not usable: {exc}",
            "oci.config_invalid"))
    return problems


def _json_size(value: Any) -> int:
    """Bytes of `value` as the API receives it (compact JSON, UTF-8): the conservative reading of OCI's limits."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
