"""Which of OCI's option groups an update of a live model deployment touches, and when it is a replacement.

OCI edits a live deployment without downtime one option group at a time. The groups, as OCI's documentation
of model deployment edits lists them: name and description; environment variables; models; compute;
logging; load-balancer bandwidth or BYOC (the container: image, entrypoint, command, ports). The Pulumi layer
keeps the `OptionFingerprint` of what it deployed (a digest per part), compares it with the new one, and stops
with `split_message` when several groups changed.

A MODEL_GROUP deployment's infrastructure (`infrastructure_configuration_details`: shape, scaling, network
and bandwidth) is not updatable in pulumi-oci 5.5 (its fields lack "(Updatable)", SINGLE_MODEL's
`model_configuration_details` has them): such a change replaces the deployment, and so does a change of
deployment type (layout single <-> per-model). A replacement creates a new deployment with everything new at
once, so it is never refused; it gets a new OCID and URL (`replacement_reason` says why).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from components.core.oci_target.command import container_entrypoint, container_environment, triton_command
from components.core.oci_target.dockerfile import backends_for, min_image_for
from components.core.oci_target.group import GroupSource
from components.core.oci_target.names import deployed_models, resource_names
from components.core.oci_target.settings import OciSettings, config_field
from components.core.spec import GroupSpec

FINGERPRINT_FORMAT = "oci-option-groups/2"

OptionGroup = Literal["name", "environment_variables", "models", "compute", "logging", "bandwidth_or_byoc"]
OPTION_GROUPS: tuple[OptionGroup, ...] = (
    "name", "environment_variables", "models", "compute", "logging", "bandwidth_or_byoc")
OPTION_GROUP_LABELS: dict[OptionGroup, str] = {
    "name": "name and description", "environment_variables": "environment variables", "models": "models",
    "compute": "compute", "logging": "logging", "bandwidth_or_byoc": "load-balancer bandwidth or BYOC",
}
"""OCI's names of its option groups."""
OPTION_GROUP_KEYS: dict[OptionGroup, tuple[str, ...]] = {
    "name": (config_field("deployment", "displayName"), config_field("deployment", "description"),
             "the spec's name and description"),
    "environment_variables": (config_field("deployment", "environment"),),
    "models": ("the group's models and their files", config_field("models"), config_field("layout")),
    "compute": (config_field("deployment", "shape"), config_field("deployment", "scaling"),
                config_field("deployment", "subnetId"), config_field("deployment", "privateEndpointId")),
    "logging": (config_field("logging"),),
    "bandwidth_or_byoc": (config_field("deployment", "bandwidthMbps"), config_field("image"),
                          config_field("deployment", "serverArgs"), config_field("deployment", "serverPort"),
                          config_field("deployment", "healthCheckPort"),
                          config_field("deployment", "nvidiaEntrypoint"), config_field("deployment", "modelRoot"),
                          config_field("deployment", "repositoryDir"), "the spec's server_args"),
}
"""What the user edits that lands in each option group, for messages."""


@dataclass(frozen=True)
class OptionFingerprint:
    """A digest of each part of a deployment; parts map onto OCI's option groups (`PART_GROUPS`)."""

    name: str
    environment_variables: str
    models: str
    deployment_type: str
    compute: str
    logging: str
    bandwidth: str
    byoc: str

    def to_json(self) -> dict[str, str]:
        return {"format": FINGERPRINT_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OptionFingerprint | None:
        """The fingerprint an earlier update recorded; None when it is of another format (an older release)."""
        if data.get("format") != FINGERPRINT_FORMAT:
            return None
        return cls(**{part.name: str(data.get(part.name, "")) for part in fields(cls)})


PART_GROUPS: dict[str, OptionGroup] = {
    "name": "name", "environment_variables": "environment_variables", "models": "models",
    "deployment_type": "models", "compute": "compute", "logging": "logging", "bandwidth": "bandwidth_or_byoc",
    "byoc": "bandwidth_or_byoc",
}
REPLACING_PARTS_MODEL_GROUP = ("compute", "bandwidth")
"""Parts of a MODEL_GROUP deployment pulumi-oci 5.5 cannot update (its infrastructure_configuration_details)."""


def option_fingerprint(
    settings: OciSettings, source: GroupSource, *, model_identity: str, image_digest: str | None = None
) -> OptionFingerprint:
    """The fingerprint of deploying `source` with `settings`.

    `model_identity` stands for the models' content (e.g. the repository's sha256 from the packager, or the
    model group's OCID). `image_digest` is the digest of a built image once pushed; before that, a built
    image is identified by what it is built from.
    """
    deployment = settings.deployment
    image = settings.image
    if image.build is not None:
        build = image.build
        image_identity: Any = image_digest or {
            **build.model_dump(by_alias=True, exclude={"token_config_key"}),
            "minImage": build.min_image or min_image_for(build.base_image),
            "backends": sorted(backends_for(source)),
        }
    else:
        image_identity = {"name": image.name, "digest": image.digest}
    spec = source if isinstance(source, GroupSpec) else source.spec
    return OptionFingerprint(
        name=_digest({"displayName": resource_names(settings, source).deployment,
                      "description": deployment.description or (spec.description if spec else "")}),
        environment_variables=_digest(container_environment(settings)),
        models=_digest({"identity": model_identity, "models": deployed_models(settings, source)}),
        deployment_type=_digest(settings.layout),
        compute=_digest({
            "shape": deployment.shape.model_dump(by_alias=True),
            "scaling": deployment.scaling.model_dump(by_alias=True),
            "subnetId": deployment.subnet_id,
            "privateEndpointId": deployment.private_endpoint_id,
        }),
        logging=_digest(settings.logging.model_dump(by_alias=True) if settings.logging else None),
        bandwidth=_digest(deployment.bandwidth_mbps),
        byoc=_digest({
            "image": image_identity,
            "entrypoint": container_entrypoint(settings),
            "command": triton_command(source, settings),
            "ports": [deployment.server_port, deployment.health_check_port],
        }),
    )


def changed_parts(old: OptionFingerprint | None, new: OptionFingerprint) -> set[str]:
    """The parts whose values differ; none when there is no comparable previous deployment (`old` None)."""
    if old is None:
        return set()
    return {part.name for part in fields(OptionFingerprint) if getattr(old, part.name) != getattr(new, part.name)}


def option_groups_changed(old: OptionFingerprint | None, new: OptionFingerprint) -> set[OptionGroup]:
    """OCI's option groups that the update from `old` to `new` touches."""
    return {PART_GROUPS[part] for part in changed_parts(old, new)}


def replacement_reason(old: OptionFingerprint | None, new: OptionFingerprint, layout: str) -> str | None:
    """Why the update replaces the deployment (a new OCID and URL), or None when it updates it in place."""
    parts = changed_parts(old, new)
    if "deployment_type" in parts:
        return "the layout (and so the deployment type) changes"
    if layout == "per-model":
        replacing = [part for part in REPLACING_PARTS_MODEL_GROUP if part in parts]
        if replacing:
            what = " and ".join("the compute shape or scaling" if part == "compute" else "the bandwidth"
                                for part in replacing)
            return (f"{what} of a MODEL_GROUP deployment changes, which pulumi-oci cannot update "
                    "(infrastructureConfigurationDetails)")
    return None


def split_message(groups: Iterable[OptionGroup]) -> str:
    """What to tell a user whose update changes several option groups at once: which edits to apply in turn."""
    changed = [group for group in OPTION_GROUPS if group in set(groups)]
    steps = "; ".join(f"{number}. {OPTION_GROUP_LABELS[group]} ({', '.join(OPTION_GROUP_KEYS[group])})"
                      for number, group in enumerate(changed, start=1))
    return (
        f"this update changes the {_and([OPTION_GROUP_LABELS[g] for g in changed])} options of the live model "
        "deployment at once, but OCI updates a live deployment one option group at a time (name and description; "
        "environment variables; models; compute; logging; load-balancer bandwidth or BYOC). Split it into one "
        f"`pulumi up` per group: keep the edits of the first group, revert the others and run `pulumi up`, then "
        f"reapply the next group and run it again, in this order: {steps}. To apply everything at once with "
        "downtime, deactivate the deployment first."
    )


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
