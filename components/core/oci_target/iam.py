"""The IAM policy statements a Triton model deployment needs, written for the stack's compartment.

Which principal needs what:
- the model deployment (a resource principal, `request.principal.type='datasciencemodeldeployment'`) pulls
  its bring-your-own image from OCIR, writes its access and predict logs, and reads the models of its model
  group (Oracle's BYOC and logging documentation give the first two; the model-group statements are
  UNCONFIRMED: the resource-type names `data-science-models` and `data-science-model-groups` are the Data
  Science family's, their need by a deployment is not documented);
- the Data Science service reads the artifact bucket when large artifacts are exported into the catalog
  (Oracle's ADS documentation grants `manage object-family` on the bucket; reading is what the export does).
`iam.statements` replaces these; `iam.create: true` creates them as one `identity.Policy`. What the operator
running `pulumi up` needs (manage data-science-family, repos, object-family on the bucket, log groups,
policies) is documented in the README and never granted by the stack to itself.
"""

from __future__ import annotations

from components.core.oci_target.group import GroupSource
from components.core.oci_target.settings import OciSettings
from components.core.plan import group_name

DEPLOYMENT_PRINCIPAL = "request.principal.type='datasciencemodeldeployment'"


def policy_statements(settings: OciSettings, *, exports_artifacts: bool) -> list[str]:
    """The statements to create: `iam.statements`, else the generated ones (`exports_artifacts`: the stack
    sends some artifact through Object Storage, so the service must read the bucket)."""
    if settings.iam.statements is not None:
        return list(settings.iam.statements)
    where = f"compartment id {settings.compartment_id}"
    deployment = f"where ALL {{{DEPLOYMENT_PRINCIPAL}}}"
    statements = [
        f"Allow any-user to read repos in {where} {deployment}",
        f"Allow any-user to use log-content in {where} {deployment}",
    ]
    if settings.layout == "per-model":
        statements += [
            f"Allow any-user to read data-science-models in {where} {deployment}",
            f"Allow any-user to read data-science-model-groups in {where} {deployment}",
        ]
    storage = settings.artifact.object_storage
    if exports_artifacts and storage is not None:
        statements.append(f"Allow service datascience to read object-family in {where} "
                          f"where ALL {{target.bucket.name='{storage.bucket}'}}")
    return statements


def policy_name(settings: OciSettings, source: GroupSource) -> str:
    """The policy's name: `iam.name`, else `<group>-triton-groups`."""
    return settings.iam.name or f"{group_name(source)}-triton-groups"


def policy_compartment(settings: OciSettings) -> str:
    """Where the policy is attached: `iam.compartmentId` (a parent of the stack's compartment), else that one."""
    return settings.iam.compartment_id or settings.compartment_id
