"""The OCI rollback's Data Science calls (components/core/oci_target/rollback.py), against a recording fake client.

What is sent is checked as the OCI SDK serializes the request body (its own models, their JSON names, unset
fields left out), so that the real UpdateModelDeployment carries the model group (or model) and nothing else.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import oci.util
from oci.base_client import BaseClient, merge_type_mappings
from oci.data_science.models import data_science_type_mapping

from components.core.oci_target.rollback import (
    DeploymentRollback,
    Target,
    Waiting,
    point_at,
    release_superseded,
    roll_back,
    rollback_input,
    update_details,
)
from components.core.oci_target.settings import OciSmokeSettings

OLD = Target("model_group", "ocid1.modelgroup.old", ("ocid1.model.a", "ocid1.model.b1"), "ab" * 32,
             "2025-01-01T00:00:00+00:00")
NEW = Target("model_group", "ocid1.modelgroup.new", ("ocid1.model.a", "ocid1.model.b2"))


class FakeDataScience:
    """Records every call; the deployment serves `serving` and reports `states` in turn (then ACTIVE)."""

    def __init__(self, serving: str, states: tuple[str, ...] = (), fail_updates: bool = False) -> None:
        self.serving = serving
        self.states = list(states)
        self.fail_updates = fail_updates
        self.calls: list[tuple[str, Any]] = []

    def get_model_deployment(self, model_deployment_id: str) -> Any:
        state = self.states.pop(0) if self.states else "ACTIVE"
        group = SimpleNamespace(model_group_id=self.serving)
        return SimpleNamespace(data=SimpleNamespace(lifecycle_state=state, model_deployment_configuration_details=
                                                    SimpleNamespace(model_group_configuration_details=group)))

    def update_model_deployment(self, model_deployment_id: str, update_model_deployment_details: Any) -> None:
        if self.fail_updates:
            raise RuntimeError("ServiceError 409: the deployment is being updated")
        self.calls.append(("update", oci.util.to_dict(update_model_deployment_details)))
        details = update_model_deployment_details.model_deployment_configuration_details
        self.serving = details.model_group_configuration_details.model_group_id

    def delete_model_group(self, model_group_id: str) -> None:
        self.calls.append(("delete_model_group", model_group_id))

    def delete_model(self, model_id: str) -> None:
        self.calls.append(("delete_model", model_id))


def wire_body(details: Any) -> Any:
    """The JSON body the SDK's client sends for `details` (BaseClient.sanitize_for_serialization, the Data Science
    client's type mappings)."""
    client = object.__new__(BaseClient)
    client.complex_type_mappings = data_science_type_mapping
    client.type_mappings = merge_type_mappings(BaseClient.primitive_type_map, data_science_type_mapping)
    return client.sanitize_for_serialization(details)


def no_wait() -> Waiting:
    return Waiting(timeout_s=60, sleep=lambda _: None)


def test_the_update_points_a_model_group_deployment_at_the_group_and_nothing_else() -> None:
    assert wire_body(update_details(OLD)) == {"modelDeploymentConfigurationDetails": {
        "deploymentType": "MODEL_GROUP", "updateType": "LIVE",
        "modelGroupConfigurationDetails": {"modelGroupId": "ocid1.modelgroup.old"}}}
    assert wire_body(update_details(Target("model", "ocid1.datasciencemodel.old"))) == {
        "modelDeploymentConfigurationDetails": {"deploymentType": "SINGLE_MODEL",
                                                "modelConfigurationDetails": {"modelId": "ocid1.datasciencemodel.old"}}}


def test_a_failed_update_points_the_deployment_back_and_waits_until_it_is_active() -> None:
    client = FakeDataScience(NEW.id, states=("UPDATING", "UPDATING"))
    slept: list[float] = []

    said = roll_back(client, "ocid1.deployment", OLD, NEW, Waiting(timeout_s=600, sleep=slept.append))

    assert client.serving == OLD.id and len(client.calls) == 1
    assert slept == [10.0, 10.0]
    assert said == (f"\nrolled back: the deployment serves release {'ab' * 6} (model group ocid1.modelgroup.old, "
                    "passed 2025-01-01T00:00:00+00:00) again (ACTIVE); model group ocid1.modelgroup.new is kept, and "
                    "the next `pulumi up` tries this change again (stack config triton-groups:rollback: false keeps "
                    "a failing change deployed)")


def test_nothing_to_roll_back_to_or_a_refused_update_says_the_failing_models_stay() -> None:
    client = FakeDataScience(NEW.id)
    assert "nothing was rolled back" in roll_back(client, "ocid1.deployment", None, NEW, no_wait())
    assert "nothing was rolled back" in roll_back(client, "ocid1.deployment", NEW, NEW, no_wait())
    assert client.calls == []
    refused = roll_back(FakeDataScience(NEW.id, fail_updates=True), "ocid1.deployment", OLD, NEW, no_wait())
    assert refused.startswith(f"\nrolling back to release {'ab' * 6} (model group ocid1.modelgroup.old")
    assert refused.endswith("failed, the failing models stay deployed: ServiceError 409: the deployment is being "
                            "updated")


def test_a_deployment_rolled_back_earlier_is_pointed_at_this_updates_group_before_the_cases() -> None:
    rollback = DeploymentRollback.from_json(rollback_input(NEW, OLD, OciSmokeSettings())["oci"], "ocid1.deployment")
    rolled_back = FakeDataScience(OLD.id)

    assert rollback.before_test(rolled_back, no_wait()) == (
        "the deployment served ocid1.modelgroup.old (rolled back by an earlier update); it is pointed at "
        "ocid1.modelgroup.new again (ACTIVE)")
    assert rolled_back.serving == NEW.id
    current = FakeDataScience(NEW.id)
    assert rollback.before_test(current, no_wait()) is None and current.calls == []


def test_a_newer_pass_deletes_the_superseded_group_and_only_the_models_the_new_one_does_not_hold() -> None:
    rollback = DeploymentRollback.from_json(rollback_input(NEW, OLD, OciSmokeSettings())["oci"], "ocid1.deployment")
    client = FakeDataScience(NEW.id)

    passed, deleted = rollback.after_pass(client, "cd" * 32, "2025-02-01T00:00:00+00:00")

    assert client.calls == [("delete_model_group", OLD.id), ("delete_model", "ocid1.model.b1")]
    assert deleted == [OLD.id, "ocid1.model.b1"]
    assert passed == Target("model_group", NEW.id, NEW.members, "cd" * 32, "2025-02-01T00:00:00+00:00")
    assert Target.from_json(passed.to_json()) == passed
    assert release_superseded(client, [NEW], NEW) == [], "what serves is never deleted"


def test_the_rollback_input_holds_the_auth_settings_and_nothing_secret() -> None:
    smoke = OciSmokeSettings(configFile="~/.oci/ci-config", profile="CI")
    described = rollback_input(NEW, None, smoke)["oci"]
    assert described["auth"] == {"auth": "api_key", "configFile": "~/.oci/ci-config", "profile": "CI"}
    assert described["previous"] is None
    assert DeploymentRollback.from_json(described, "d").previous is None


def test_pointing_a_deployment_elsewhere_stops_waiting_at_the_first_final_state() -> None:
    client = FakeDataScience(NEW.id, states=("UPDATING", "NEEDS_ATTENTION", "UPDATING"))
    slept: list[float] = []

    state = point_at(client, "ocid1.datasciencemodeldeployment.d", OLD, Waiting(timeout_s=3600, sleep=slept.append))

    assert (state, len(slept)) == ("NEEDS_ATTENTION", 1), "NEEDS_ATTENTION is final: no polling until the deadline"
