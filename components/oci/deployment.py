"""TritonModelDeployment: an OCI model deployment running Triton in a bring-your-own container.

Deployment type MODEL_GROUP serves a heterogeneous model group (`model_group_id`); SINGLE_MODEL serves
one catalog model holding the whole repository (`model_id`, Oracle's Triton sample, seed 001). The
container is OCIR_CONTAINER with the image pinned by digest, `CONTAINER_TYPE=TRITON` in its environment,
the core's `container_entrypoint` (Pulumi's `entrypoints`: the step that links the members' folders into
one repository, whatever layout OCI unpacks them in) and `triton_command` (Pulumi's `cmds`).
Infrastructure is an INSTANCE_POOL of the configured shape, fixed size or threshold autoscaling on CPU.
A MODEL_GROUP deployment's `infrastructureConfigurationDetails` is not updatable in pulumi-oci 5.5, so a
change there (shape, scaling, network, bandwidth) or of the deployment type replaces the deployment
(`REPLACING_PROPERTIES`, said explicitly so that previews show "replace"): create-before-delete, the new
deployment has a new OCID and URL. Access and predict logs go to an OCI Logging log group: existing logs
when the settings name them, else a log group and two CUSTOM logs created here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_oci as oci

from components.core.oci_target.command import CONTAINER_ENVIRONMENT
from components.core.oci_target.settings import AutoscalingSettings, DeploymentSettings, LoggingSettings

AUTOSCALING_PENDING_DURATION = "PT5M"
"""How long a threshold must hold before OCI scales in or out (ISO 8601 duration)."""
REPLACING_PROPERTIES = [
    "modelDeploymentConfigurationDetails.deploymentType",
    "modelDeploymentConfigurationDetails.infrastructureConfigurationDetails",
]
"""Deployment properties whose change replaces it: MODEL_GROUP infrastructure lacks "(Updatable)" in pulumi-oci."""


@dataclass(frozen=True)
class LogNames:
    """Display names of the log group and logs a deployment creates."""

    group: str
    access: str
    predict: str


@dataclass(frozen=True)
class TritonModelDeploymentArgs:
    """What one deployment serves and how. Give exactly one of `model_group_id` or `model_id`.

    `entrypoint`, `command` and `environment` come from the core (`container_entrypoint`, `triton_command`,
    `container_environment`);
    `deployment` holds the shape, scaling, bandwidth, network and ports; `logging` None (or `create`)
    creates a log group and its logs, named `log_names` (default: `<display_name>-logs|-access|-predict`).
    """

    compartment_id: pulumi.Input[str]
    project_id: pulumi.Input[str]
    display_name: str
    image_name: pulumi.Input[str]
    image_digest: pulumi.Input[str]
    entrypoint: Sequence[str]
    command: Sequence[str]
    environment: Mapping[str, str]
    deployment: DeploymentSettings
    model_group_id: pulumi.Input[str] | None = None
    model_id: pulumi.Input[str] | None = None
    logging: LoggingSettings | None = None
    log_names: LogNames | None = None
    description: str = ""
    freeform_tags: Mapping[str, str] | None = None


@dataclass(frozen=True)
class DeploymentLogs:
    """Where the deployment writes: one log group, its access and predict logs (either may be None)."""

    log_group_id: pulumi.Input[str]
    access_log_id: pulumi.Input[str] | None
    predict_log_id: pulumi.Input[str] | None


class TritonModelDeployment(pulumi.ComponentResource):
    """Outputs `model_deployment_id`, `model_deployment_url` and `log_group_id`. The component's `depends_on`
    (what it serves: catalog models, their exports, the IAM policy) holds for the deployment itself."""

    model_deployment: oci.datascience.ModelDeployment
    model_deployment_id: pulumi.Output[str]
    model_deployment_url: pulumi.Output[str]
    log_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: TritonModelDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if (args.model_group_id is None) == (args.model_id is None):
            raise ValueError("a deployment serves exactly one of a model group (model_group_id) or a model (model_id)")
        missing = {key: value for key, value in CONTAINER_ENVIRONMENT.items() if args.environment.get(key) != value}
        if missing:
            raise ValueError(f"the container environment must hold {missing} for OCI to front Triton")
        super().__init__("triton-groups:oci:TritonModelDeployment", name, None, opts)
        logs = self._logs(name, args)
        self.log_group_id = pulumi.Output.from_input(logs.log_group_id)
        self.model_deployment = oci.datascience.ModelDeployment(
            f"{name}-deployment",
            compartment_id=args.compartment_id,
            project_id=args.project_id,
            display_name=args.display_name,
            description=args.description or None,
            model_deployment_configuration_details=configuration_details(args),
            category_log_details=_log_details(logs),
            freeform_tags=args.freeform_tags,
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=REPLACING_PROPERTIES,
                                        depends_on=opts.depends_on if opts is not None else None),
        )
        self.model_deployment_id = self.model_deployment.id
        self.model_deployment_url = self.model_deployment.model_deployment_url
        self.register_outputs({"model_deployment_id": self.model_deployment_id,
                               "model_deployment_url": self.model_deployment_url,
                               "log_group_id": self.log_group_id})

    def _logs(self, name: str, args: TritonModelDeploymentArgs) -> DeploymentLogs:
        given = args.logging
        if given is not None and not given.create:
            assert given.log_group_id is not None
            return DeploymentLogs(given.log_group_id, given.access_log_id, given.predict_log_id)
        names = args.log_names or LogNames(f"{args.display_name}-logs", f"{args.display_name}-access",
                                           f"{args.display_name}-predict")
        group = oci.logging.LogGroup(
            f"{name}-logs",
            compartment_id=args.compartment_id,
            display_name=names.group,
            description=f"access and predict logs of the model deployment {args.display_name}",
            freeform_tags=args.freeform_tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        created = {
            kind: oci.logging.Log(
                f"{name}-{kind}-log",
                display_name=getattr(names, kind),
                log_group_id=group.id,
                log_type="CUSTOM",
                is_enabled=True,
                freeform_tags=args.freeform_tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for kind in ("access", "predict")
        }
        return DeploymentLogs(group.id, created["access"].id, created["predict"].id)


def configuration_details(args: TritonModelDeploymentArgs) -> dict[str, Any]:
    """`model_deployment_configuration_details` for a group (MODEL_GROUP) or one model (SINGLE_MODEL)."""
    settings = args.deployment
    environment = {
        "environment_configuration_type": "OCIR_CONTAINER",
        "image": args.image_name,
        "image_digest": args.image_digest,
        "entrypoints": list(args.entrypoint),
        "cmds": list(args.command),
        "environment_variables": dict(args.environment),
        "server_port": settings.server_port,
        "health_check_port": settings.health_check_port,
    }
    compute = {
        "instance_configuration": _instance_configuration(settings),
        "scaling_policy": scaling_policy(settings),
        **({"bandwidth_mbps": settings.bandwidth_mbps} if settings.bandwidth_mbps is not None else {}),
    }
    if args.model_group_id is not None:
        return {
            "deployment_type": "MODEL_GROUP",
            "model_group_configuration_details": {"model_group_id": args.model_group_id},
            "infrastructure_configuration_details": {"infrastructure_type": "INSTANCE_POOL", **compute},
            "environment_configuration_details": environment,
        }
    return {
        "deployment_type": "SINGLE_MODEL",
        "model_configuration_details": {"model_id": args.model_id, **compute},
        "environment_configuration_details": environment,
    }


def _instance_configuration(settings: DeploymentSettings) -> dict[str, Any]:
    shape = settings.shape
    configuration: dict[str, Any] = {"instance_shape_name": shape.instance_shape_name}
    shape_details = {key: value for key, value in (("ocpus", shape.ocpus), ("memory_in_gbs", shape.memory_in_gbs))
                     if value is not None}
    if shape_details:
        configuration["model_deployment_instance_shape_config_details"] = shape_details
    if settings.subnet_id:
        configuration["subnet_id"] = settings.subnet_id
    if settings.private_endpoint_id:
        configuration["private_endpoint_id"] = settings.private_endpoint_id
    return configuration


def scaling_policy(settings: DeploymentSettings) -> dict[str, Any]:
    """FIXED_SIZE with the instance count, or AUTOSCALING with one THRESHOLD policy on CPU utilization."""
    scaling = settings.scaling
    if scaling.autoscaling is None:
        return {"policy_type": scaling.policy_type, "instance_count": scaling.fixed_count}
    auto = scaling.autoscaling
    return {
        "policy_type": scaling.policy_type,
        "is_enabled": True,
        "cool_down_in_seconds": auto.cool_down_seconds,
        "auto_scaling_policies": [
            {
                "auto_scaling_policy_type": "THRESHOLD",
                "minimum_instance_count": auto.min_instances,
                "maximum_instance_count": auto.max_instances,
                "initial_instance_count": auto.initial,
                "rules": [_cpu_rule(auto)],
            }
        ],
    }


def _cpu_rule(auto: AutoscalingSettings) -> dict[str, Any]:
    def threshold(percent: int) -> dict[str, Any]:
        return {"scaling_configuration_type": "THRESHOLD", "threshold": percent, "instance_count_adjustment": 1,
                "pending_duration": AUTOSCALING_PENDING_DURATION}

    return {
        "metric_expression_rule_type": "PREDEFINED_EXPRESSION",
        "metric_type": "CPU_UTILIZATION",
        "scale_out_configuration": threshold(auto.scale_out_cpu_percent),
        "scale_in_configuration": threshold(auto.scale_in_cpu_percent),
    }


def _log_details(logs: DeploymentLogs) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for kind, log_id in (("access", logs.access_log_id), ("predict", logs.predict_log_id)):
        if log_id is not None:
            details[kind] = {"log_group_id": logs.log_group_id, "log_id": log_id}
    return details
