"""The IAM policy of an OCI stack (`triton-groups:iam`) under Pulumi mocks: created only when asked, with the
statements the deployment and the artifact exports need, before what needs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from oci_stack_harness import EXPORT, MODEL_DEPLOYMENT, OciCredentials, OciStackHarness, oci_project, stack_config

POLICY = "oci:Identity/policy:Policy"
COMPARTMENT = "ocid1.compartment.oc1..exampleonlyreplacewithyourcompartment"
DEPLOYMENT_STATEMENTS = [
    f"Allow any-user to read repos in compartment id {COMPARTMENT} where ALL "
    "{request.principal.type='datasciencemodeldeployment'}",
    f"Allow any-user to use log-content in compartment id {COMPARTMENT} where ALL "
    "{request.principal.type='datasciencemodeldeployment'}",
]
GROUP_STATEMENTS = [
    f"Allow any-user to read data-science-models in compartment id {COMPARTMENT} where ALL "
    "{request.principal.type='datasciencemodeldeployment'}",
    f"Allow any-user to read data-science-model-groups in compartment id {COMPARTMENT} where ALL "
    "{request.principal.type='datasciencemodeldeployment'}",
]
BUCKET_STATEMENT = (f"Allow service datascience to read object-family in compartment id {COMPARTMENT} where ALL "
                    "{target.bucket.name='example-artifacts'}")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, OciCredentials]:
    return oci_project(tmp_path)


def deployed(project: tuple[Path, OciCredentials], **changes: object) -> OciStackHarness:
    harness = OciStackHarness(stack_config(*project, **changes), project=project[0])
    harness.up()
    return harness


def test_no_policy_is_created_unless_the_stack_asks(project: tuple[Path, OciCredentials]) -> None:
    assert deployed(project).registered(POLICY) == []


def test_the_policy_lets_the_deployment_pull_its_image_write_logs_and_read_its_group(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = deployed(project, iam={"create": True})

    policy = harness.one(POLICY)
    assert policy.inputs["statements"] == [*DEPLOYMENT_STATEMENTS, *GROUP_STATEMENTS]
    assert policy.inputs["name"] == "vision-example-triton-groups"
    assert policy.inputs["compartmentId"] == COMPARTMENT
    assert harness.one(MODEL_DEPLOYMENT).depends_on(policy)

    single = deployed(project, iam={"create": True}, layout="single")
    assert single.one(POLICY).inputs["statements"] == DEPLOYMENT_STATEMENTS


def test_large_artifacts_add_the_bucket_statement_and_the_export_waits_for_it(
    project: tuple[Path, OciCredentials],
) -> None:
    model = project[0] / "examples" / "vision" / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "#" * 1024 * 1024 + "\n")
    storage = {"inlineLimitMib": 1, "objectStorage": {"bucket": "example-artifacts", "namespace": "exampletenancy"}}
    harness = deployed(project, iam={"create": True}, artifact=storage)

    policy = harness.one(POLICY)
    assert policy.inputs["statements"] == [*DEPLOYMENT_STATEMENTS, *GROUP_STATEMENTS, BUCKET_STATEMENT]
    assert harness.one(EXPORT).depends_on(policy)


def test_given_statements_and_compartment_replace_the_generated_ones(project: tuple[Path, OciCredentials]) -> None:
    given = {"create": True, "name": "ml-serving", "compartmentId": "ocid1.tenancy.oc1..exampletenancy",
             "statements": ["Allow any-user to read repos in tenancy where ALL "
                            "{request.principal.type='datasciencemodeldeployment'}"]}
    policy = deployed(project, iam=given).one(POLICY).inputs

    assert (policy["name"], policy["compartmentId"], policy["statements"]) == (
        "ml-serving", "ocid1.tenancy.oc1..exampletenancy", given["statements"])
