"""The settings of a `target: oci` stack: the `triton-groups:*` values of `stacks/Pulumi.<stack>.yaml`.

The Pulumi layer reads the stack config and passes the plain values to `read_settings`; this module never
imports Pulumi. Keys are camelCase in the YAML (Pulumi's convention); Python fields are snake_case. Every
problem is a `Problem` naming the stack file and the key, `triton-groups:deployment.shape.ocpus` style.

Secrets never live here: the OCIR auth token is a Pulumi secret config value that the settings only NAME
(`image.build.tokenConfigKey`, default `ocirToken`; `read_settings` drops that key unread), and the OCI API
key is read from the OCI config file when a request is signed.

A minimal stack (every other key has a default):

    config:
      triton-groups:target: oci
      triton-groups:spec: examples/vision/group.yaml
      triton-groups:compartmentId: ocid1.compartment.oc1..aaaa
      triton-groups:projectId: ocid1.datascienceproject.oc1.iad.aaaa
      triton-groups:image:
        name: iad.ocir.io/mytenancy/triton/vision:1.0.0
        digest: sha256:<64 hex>
      triton-groups:deployment:
        shape: {instanceShapeName: VM.Standard.E4.Flex, ocpus: 1, memoryInGbs: 16}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from components._internal.yaml_lines import line_of
from components.core.package import Layout
from components.core.problems import Problem, Severity, UserError
from components.core.stack_settings import (
    CONFIG_NAMESPACE,
    SettingsModel,
    StackSettings,
    config_field,
    decoded,
    stack_file_label,
    stack_lines,
)

DEFAULT_TOKEN_CONFIG_KEY = "ocirToken"
TRITON_HTTP_PORT = 8000
"""Triton's default HTTP port, and the server and health-check port of Oracle's Triton samples."""
MODEL_ROOT = "/opt/ds/model/deployed_model"
"""Where OCI unpacks a deployment's artifacts (read-only): flat, or each group member below its model OCID."""
REPOSITORY_DIR = "/tmp/triton-groups/models"
"""Where the container's entrypoint step builds the flat model repository Triton reads (symlinks)."""

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
IMAGE_SOURCE = "oci.image_source"
IMAGE_SOURCE_MESSAGE = ("give either name and digest (an existing OCIR image) or build: {repository, tag, baseImage, "
                        "username} (an image to build)")
IMAGE_DIGEST = "oci.image_digest"
CONTAINER_PATH_FORBIDDEN = frozenset(" \t\n'\"\\$`")
HEADER_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _header_names(value: Any) -> Any:
    """One header name or a list of them (each is sent with the same value); [] sends none."""
    names = [value] if isinstance(value, str) else value
    if isinstance(names, list):
        for name in names:
            if isinstance(name, str) and (not name or set(name) - HEADER_TOKEN):
                raise PydanticCustomError(
                    "oci.header_name", "'{name}' is not a valid HTTP header name", {"name": name}
                )
    return names


HeaderNames = Annotated[tuple[str, ...], BeforeValidator(_header_names)]


class ProjectSettings(SettingsModel):
    """A Data Science project to create (instead of `projectId`, an existing one)."""

    display_name: str
    description: str = ""


class ImageBuildSettings(SettingsModel):
    """Build a Triton image holding only the group's backends and push it to OCIR.

    The image is `<regionKey>.ocir.io/<namespace>/<repository>:<tag>`; the deployment is pinned to the digest
    the push returns. `baseImage` is a full Triton NGC image (`nvcr.io/nvidia/tritonserver:<yy.mm>-py3`); the
    backends are copied from it onto its `-min` sibling, or onto `minImage` when given.
    """

    repository: str = Field(min_length=1, description="the OCIR repository inside the namespace, e.g. triton/vision")
    tag: str = Field(min_length=1)
    base_image: str = Field(min_length=1, description="a full Triton NGC image: nvcr.io/nvidia/tritonserver:<v>-py3")
    min_image: str | None = Field(None, description="the image the backends are copied onto; default: <base>-min")
    platform: Literal["linux/amd64", "linux/arm64"] = "linux/amd64"
    username: str = Field(min_length=1, description="the OCIR login: <namespace>/<user name>")
    namespace: str | None = Field(None, description="the tenancy's Object Storage namespace; default: looked up")
    token_config_key: str = Field(
        DEFAULT_TOKEN_CONFIG_KEY, min_length=1,
        description="the name of the SECRET stack config value holding the OCIR auth token (never the token)",
    )
    triton_release: str | None = Field(
        None, description="the Triton release of baseImage (e.g. 24.08), which picks the runtime packages; "
        "default: read from the baseImage tag",
    )


class ImageSettings(SettingsModel):
    """Either an existing OCIR image pinned by digest (`name` + `digest`) or an image to build (`build`)."""

    name: str | None = Field(None, min_length=1, description="<region-key>.ocir.io/<namespace>/<repo>:<tag>")
    digest: str | None = Field(None, description="sha256:<64 hex>; required with name")
    build: ImageBuildSettings | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImageSettings:
        found = image_source_problem(self.name, self.digest, self.build)
        if found is not None:
            raise PydanticCustomError(*found)
        return self


def image_source_problem(name: object | None, digest: object | None, build: object | None) -> tuple[str, str] | None:
    """(code, message) when an image is not exactly one source, an existing image pinned by its digest (`name` with
    `digest`) or an image to build; None when it is. The one rule the settings and the `TritonImage` component share."""
    if (name is None) == (build is None):
        return IMAGE_SOURCE, IMAGE_SOURCE_MESSAGE
    if name is not None and digest is None:
        return IMAGE_DIGEST, ("image.digest is required with image.name: a deployment is pinned to the image's digest "
                              "(sha256:<64 hex>, shown by `docker inspect` or the OCIR console)")
    if build is not None and digest is not None:
        return IMAGE_DIGEST, "image.digest goes with image.name; a built image is pinned to its pushed digest"
    return None


def image_digest_problem(digest: str | None) -> str | None:
    """Why `digest` cannot pin an existing image, or None: it must be sha256:<64 lowercase hex>."""
    if DIGEST.match(digest or ""):
        return None
    return (f"{digest!r} is not an image digest; give sha256:<64 lowercase hex> (from the push output, "
            "`docker inspect` or the OCIR console)")


class ShapeSettings(SettingsModel):
    """The compute shape; flexible shapes (`*.Flex`) also need `ocpus` and `memoryInGbs`."""

    instance_shape_name: str = Field(min_length=1, description="e.g. VM.Standard.E4.Flex or VM.GPU.A10.1")
    ocpus: float | None = Field(None, gt=0)
    memory_in_gbs: float | None = Field(None, gt=0)

    @property
    def is_flex(self) -> bool:
        return self.instance_shape_name.endswith(".Flex")

    @property
    def is_gpu(self) -> bool:
        return ".GPU" in self.instance_shape_name.upper()

    @property
    def is_arm(self) -> bool:
        """Ampere shapes (VM.Standard.A1.Flex, VM.Standard.A2.Flex, ...) run linux/arm64 images."""
        return any(part in ("A1", "A2", "A4") for part in self.instance_shape_name.split("."))


class AutoscalingSettings(SettingsModel):
    """OCI's threshold autoscaling on CPU utilization: scale out above one threshold, in below the other."""

    min_instances: int = Field(ge=1)
    max_instances: int = Field(ge=1)
    initial_instances: int | None = Field(None, ge=1, description="default: minInstances")
    scale_out_cpu_percent: int = Field(70, ge=1, le=100)
    scale_in_cpu_percent: int = Field(30, ge=1, le=100)
    cool_down_seconds: int = Field(300, ge=0, description="OCI's minimum (and default) is 300")

    @property
    def initial(self) -> int:
        return self.initial_instances if self.initial_instances is not None else self.min_instances


class ScalingSettings(SettingsModel):
    """A fixed number of instances (`instanceCount`, default 1) or `autoscaling`."""

    instance_count: int | None = Field(None, ge=1)
    autoscaling: AutoscalingSettings | None = None

    @model_validator(mode="after")
    def _one_policy(self) -> ScalingSettings:
        if self.instance_count is not None and self.autoscaling is not None:
            raise PydanticCustomError(
                "oci.scaling", "give instanceCount (fixed size) or autoscaling, not both"
            )
        return self

    @property
    def policy_type(self) -> Literal["FIXED_SIZE", "AUTOSCALING"]:
        return "AUTOSCALING" if self.autoscaling is not None else "FIXED_SIZE"

    @property
    def fixed_count(self) -> int:
        return self.instance_count if self.instance_count is not None else 1


class DeploymentSettings(SettingsModel):
    """The model deployment: its shape and scaling, network, and the Triton container's ports and flags."""

    display_name: str | None = Field(None, description="default: the group's name")
    description: str = ""
    shape: ShapeSettings
    scaling: ScalingSettings = Field(default_factory=ScalingSettings)
    bandwidth_mbps: int | None = Field(None, ge=1, description="the load balancer's bandwidth; OCI's default: 10")
    subnet_id: str | None = None
    private_endpoint_id: str | None = None
    server_port: int = TRITON_HTTP_PORT
    health_check_port: int = TRITON_HTTP_PORT
    server_args: list[str] = Field(
        default_factory=list, description="tritonserver flags for OCI only, after the spec's server_args"
    )
    environment: dict[str, str] = Field(default_factory=dict, description="extra container environment variables")
    nvidia_entrypoint: bool = Field(
        True, description="start the command with /opt/nvidia/nvidia_entrypoint.sh, as Oracle's Triton sample does"
    )
    model_root: str = Field(
        MODEL_ROOT,
        description="where OCI unpacks the artifacts in the container (UNCONFIRMED for heterogeneous groups)",
    )
    repository_dir: str = Field(
        REPOSITORY_DIR,
        description="a writable folder where the entrypoint step links every model for Triton",
    )

    @field_validator("model_root", "repository_dir")
    @classmethod
    def _container_path(cls, path: str) -> str:
        if not path.startswith("/") or path == "/" or path.endswith("/") or CONTAINER_PATH_FORBIDDEN & set(path):
            raise PydanticCustomError(
                "oci.container_path", "'{path}' is not a container folder: give an absolute path such as "
                "/opt/ds/model/deployed_model, without a trailing /, spaces or quotes", {"path": path})
        return path

    @model_validator(mode="after")
    def _repository_outside_root(self) -> DeploymentSettings:
        if f"{self.repository_dir}/".startswith(f"{self.model_root}/"):
            raise PydanticCustomError(
                "oci.repository_dir", "repositoryDir must be outside modelRoot (OCI mounts the artifacts read-only)")
        return self


class LoggingSettings(SettingsModel):
    """Deployment logs: existing ones (`logGroupId` with `accessLogId` and/or `predictLogId`) or `create: true`."""

    create: bool = False
    log_group_id: str | None = None
    access_log_id: str | None = None
    predict_log_id: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> LoggingSettings:
        given = [self.log_group_id, self.access_log_id, self.predict_log_id]
        if self.create and any(given):
            raise PydanticCustomError(
                "oci.logging", "create: true makes a log group and its logs; remove the log ids or create"
            )
        if not self.create:
            if self.log_group_id is None:
                raise PydanticCustomError(
                    "oci.logging", "give logGroupId with accessLogId and/or predictLogId, or create: true"
                )
            if self.access_log_id is None and self.predict_log_id is None:
                raise PydanticCustomError(
                    "oci.logging", "give accessLogId and/or predictLogId with logGroupId, or create: true"
                )
        return self


class IamSettings(SettingsModel):
    """The IAM policy the deployment needs (the service reading the artifact bucket, the deployment pulling the
    image, writing its logs and reading its model group): created with `create: true`, else only documented."""

    create: bool = False
    name: str | None = Field(None, description="the policy's name; default: <group>-triton-groups")
    compartment_id: str | None = Field(None, description="where the policy is attached; default: compartmentId")
    statements: list[str] | None = Field(None, description="the statements to create instead of the generated ones")


class SmokeHeaders(SettingsModel):
    """The routing headers of a /predict call, each a name or a list of names (the service's spelling is
    not documented: Oracle's Triton sample uses `model_name`, Oracle's ADS SDK `model-name`)."""

    model_key: HeaderNames = ("model-key",)
    model_name: HeaderNames = ("model_name",)
    model_version: HeaderNames = ("model_version",)


class OciSmokeSettings(SettingsModel):
    """How the smoke tests reach the deployment: signed with an API key from the OCI config file (read when a
    request is signed, never stored) or with resource principals (inside OCI)."""

    auth: Literal["api_key", "resource_principal"] = "api_key"
    config_file: str = "~/.oci/config"
    profile: str = "DEFAULT"
    headers: SmokeHeaders = Field(default_factory=SmokeHeaders)
    wire_format: Literal["json", "binary"] = Field(
        "json", description="KServe v2 JSON bodies (Oracle's samples), or Triton's binary tensor extension",
    )
    active_timeout_s: float = Field(1800, gt=0, description="how long to wait for the deployment to be ACTIVE")
    request_timeout_s: float = Field(60, gt=0, description="the timeout of one /predict call")


class ObjectStorageSettings(SettingsModel):
    """Where artifacts above the inline limit are uploaded before import into the model catalog."""

    bucket: str = Field(min_length=1)
    namespace: str | None = Field(None, description="default: the tenancy's namespace, looked up")


class ArtifactSettings(SettingsModel):
    """Model artifacts up to `inlineLimitMib` are uploaded with the model; larger ones go through Object Storage."""

    inline_limit_mib: int = Field(2048, ge=1, description="Oracle's ADS SDK sends artifacts above 2 GiB via a bucket")
    object_storage: ObjectStorageSettings | None = None

    @property
    def inline_limit_bytes(self) -> int:
        return self.inline_limit_mib * 1024 * 1024


class OciSettings(StackSettings):
    """Everything a `target: oci` stack says (the spec and the release settings of `StackSettings`, then OCI's);
    read it with `read_settings` and check it with `preflight`."""

    target: Literal["oci"]
    compartment_id: str = Field(min_length=1)
    project_id: str | None = None
    project: ProjectSettings | None = Field(None, validate_default=True)
    region: str | None = Field(None, description="e.g. us-ashburn-1; default: the OCI provider's region")
    region_key: str | None = Field(None, description="e.g. iad, for OCIR names; default: derived from region")
    image: ImageSettings
    layout: Layout = "single"
    models: list[str] | None = Field(None, description="deploy only these models of the group; default: all")
    deployment: DeploymentSettings
    logging: LoggingSettings | None = None
    smoke: OciSmokeSettings = Field(default_factory=OciSmokeSettings)
    artifact: ArtifactSettings = Field(default_factory=ArtifactSettings)
    iam: IamSettings = Field(default_factory=IamSettings)
    freeform_tags: dict[str, str] = Field(default_factory=dict)

    _file: str = PrivateAttr(default=stack_file_label("<stack>"))
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("project")
    @classmethod
    def _one_project(cls, project: ProjectSettings | None, info: ValidationInfo) -> ProjectSettings | None:
        """A field validator (not a model one), so that it is reported together with every other problem."""
        if (info.data.get("project_id") is None) == (project is None):
            raise PydanticCustomError(
                "oci.project", "give projectId (an existing project) or project: {displayName} (to create one)"
            )
        return project

    @property
    def file(self) -> str:
        """The stack file these settings came from, as messages name it."""
        return self._file

    def line(self, *loc: Any) -> int | None:
        """The stack file line of a key path such as ('deployment', 'shape'), when the file was read."""
        return line_of(self._lines, loc) if self._lines else None

    def problem(self, loc: tuple[Any, ...], message: str, code: str, *, warning: bool = False) -> Problem:
        """A Problem about the key at `loc`, with its file and line."""
        return Problem(self._file, config_field(*loc), message, code, line=self.line(*loc),
                       severity=Severity.WARNING if warning else Severity.ERROR)

    @property
    def resolved_region_key(self) -> str | None:
        """`regionKey`, or the key of `region` from the OCI SDK's region table (None when neither is known)."""
        if self.region_key:
            return self.region_key.lower()
        if self.region:
            import oci.regions

            by_name = {name: key for key, name in oci.regions.REGIONS_SHORT_NAMES.items()}
            return by_name.get(self.region)
        return None

    @property
    def ocir_registry(self) -> str | None:
        """`<region-key>.ocir.io`, the registry images are pushed to and pulled from."""
        key = self.resolved_region_key
        return f"{key}.ocir.io" if key else None

    def ocir_image(self, namespace: str) -> str:
        """The OCIR name of the image to build: `<region-key>.ocir.io/<namespace>/<repository>:<tag>`."""
        build = self.image.build
        if build is None or self.ocir_registry is None:
            raise ValueError("ocir_image needs image.build and a region key (check preflight first)")
        return f"{self.ocir_registry}/{namespace}/{build.repository}:{build.tag}"


CONFIG_KEYS: tuple[str, ...] = tuple(field.alias or name for name, field in OciSettings.model_fields.items())
"""The top-level stack config keys an OCI stack may set (besides the secret named by tokenConfigKey)."""


def read_settings(values: Mapping[str, Any], stack: str, *, stack_file: Path | None = None) -> OciSettings:
    """Check a stack's config values and return its settings; raise UserError listing every problem.

    `values` maps each config key, bare (`deployment`) or namespaced (`triton-groups:deployment`), to its
    value: a plain value, a dict/list, or the JSON text Pulumi gives for an object. None values are left out.
    The secret named by `image.build.tokenConfigKey` is dropped unread. When `stack_file` is given and
    readable, messages carry its line numbers.
    """
    label = stack_file_label(stack)
    data: dict[str, Any] = {}
    for key, value in values.items():
        bare = key.removeprefix(f"{CONFIG_NAMESPACE}:")
        if value is not None:
            data[bare] = decoded(value)
    token_key = _token_key(data)
    data.pop(token_key, None)
    lines = stack_lines(stack_file)
    try:
        settings = OciSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(part for part in error["loc"] if part != "[key]")
            problems.append(Problem(label, config_field(*loc), _message(error),
                                    error["type"] if "." in error["type"] else f"oci.{error['type']}",
                                    line=line_of(lines, loc) if lines else None))
        raise UserError(sorted(problems, key=lambda p: (p.line or 0, p.field))) from None
    settings._file = label
    settings._lines = lines
    return settings


def load_stack_settings(stack_file: Path) -> OciSettings:
    """Read the `triton-groups:*` values straight from a stack file (`stacks/Pulumi.<stack>.yaml`).

    For tools and tests that run without the Pulumi engine; secure values are never decrypted (the token
    key is dropped unread). The stack name is taken from the file name.
    """
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(Problem(stack_file_label(stack), "", f"cannot read the stack file: {exc}",
                                "oci.stack_file")) from None
    config = (document.get("config") or {}) if isinstance(document, dict) else {}
    values = {key: value for key, value in config.items() if key.startswith(f"{CONFIG_NAMESPACE}:")}
    return read_settings(values, stack, stack_file=stack_file)


def _token_key(data: Mapping[str, Any]) -> str:
    image = data.get("image")
    build = image.get("build") if isinstance(image, dict) else None
    key = build.get("tokenConfigKey") if isinstance(build, dict) else None
    return key if isinstance(key, str) and key else DEFAULT_TOKEN_CONFIG_KEY


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling (keys are camelCase)"
    if kind == "missing":
        return "required; add it"
    if kind == "literal_error" and error["loc"] == ("target",):
        return "these settings are for target: oci"
    return str(error["msg"]).removeprefix("Value error, ")
