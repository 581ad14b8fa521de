"""Which option groups of a live model deployment an update touches.

OCI updates a live deployment without downtime one option group at a time: the model (which models or model
group it serves), the infrastructure (shape, scaling, bandwidth, network) or the environment (image, command,
environment variables, ports). The Pulumi layer keeps the `OptionFingerprint` of what it deployed, compares
it with the new one, and stops with `split_message` when several groups changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from components.core.oci.command import container_environment, triton_command
from components.core.oci.dockerfile import backends_for, min_image_for
from components.core.oci.group import GroupSource
from components.core.oci.names import deployed_models
from components.core.oci.settings import OciSettings, config_field

OptionGroup = Literal["model", "infrastructure", "environment"]
OPTION_GROUPS: tuple[OptionGroup, ...] = ("model", "infrastructure", "environment")
OPTION_GROUP_KEYS: dict[OptionGroup, tuple[str, ...]] = {
    "model": ("the group's models and their files", config_field("layout"), config_field("models")),
    "infrastructure": (config_field("deployment", "shape"), config_field("deployment", "scaling"),
                       config_field("deployment", "bandwidthMbps"), config_field("deployment", "subnetId"),
                       config_field("deployment", "privateEndpointId")),
    "environment": (config_field("image"), config_field("deployment", "serverArgs"),
                    config_field("deployment", "environment"), config_field("deployment", "serverPort"),
                    config_field("deployment", "healthCheckPort"), config_field("deployment", "nvidiaEntrypoint"),
                    "the spec's server_args"),
}
"""What the user edits that lands in each option group, for messages."""


@dataclass(frozen=True)
class OptionFingerprint:
    """A digest of each option group's deployed values; store `to_json()` in the Pulumi state."""

    model: str
    infrastructure: str
    environment: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> OptionFingerprint:
        return cls(**{group: str(data.get(group, "")) for group in OPTION_GROUPS})


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
    return OptionFingerprint(
        model=_digest({"identity": model_identity, "layout": settings.layout,
                       "models": deployed_models(settings, source)}),
        infrastructure=_digest({
            "shape": deployment.shape.model_dump(by_alias=True),
            "scaling": deployment.scaling.model_dump(by_alias=True),
            "bandwidthMbps": deployment.bandwidth_mbps,
            "subnetId": deployment.subnet_id,
            "privateEndpointId": deployment.private_endpoint_id,
        }),
        environment=_digest({
            "image": image_identity,
            "command": triton_command(source, settings),
            "environment": container_environment(settings),
            "ports": [deployment.server_port, deployment.health_check_port],
        }),
    )


def option_groups_changed(
    old: OptionFingerprint | Mapping[str, str] | None, new: OptionFingerprint
) -> set[OptionGroup]:
    """The option groups whose values differ; none when there is no previous deployment (`old` None)."""
    if old is None:
        return set()
    before = old if isinstance(old, OptionFingerprint) else OptionFingerprint.from_json(old)
    return {group for group in OPTION_GROUPS if getattr(before, group) != getattr(new, group)}


def split_message(groups: Iterable[OptionGroup]) -> str:
    """What to tell a user whose update changes several option groups at once."""
    changed = [group for group in OPTION_GROUPS if group in set(groups)]
    listing = "; ".join(f"{group}: {', '.join(OPTION_GROUP_KEYS[group])}" for group in changed)
    return (
        f"this update changes the {_and(changed)} options of the live model "
        "deployment at once, but OCI updates a live deployment without downtime one option group at a time. "
        f"Split it: keep the changes of one group, revert the others and run `pulumi up`, then reapply the next "
        f"group and run it again ({listing}). To apply everything at once with downtime, deactivate the deployment "
        "first."
    )


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
