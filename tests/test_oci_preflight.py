"""Pre-flight checks of an OCI stack: each rule with a failing config and its message naming the key.

Also the container command and environment they check, and the option groups an update touches.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest

from components.core.oci_target.command import (
    LAYOUT_SCRIPT,
    container_entrypoint,
    container_environment,
    triton_command,
)
from components.core.oci_target.preflight import (
    artifact_problems,
    container_command_size,
    display_name_problem,
    preflight,
)
from components.core.oci_target.settings import OciSettings, read_settings
from components.core.oci_target.updates import (
    OptionFingerprint,
    option_fingerprint,
    option_groups_changed,
    replacement_reason,
    split_message,
)
from components.core.plan import plan_from_folder, plan_from_spec
from components.core.problems import Severity, UserError
from components.core.spec import GroupSpec, load_spec

DIGEST = "sha256:" + "ab" * 32
BUILD = {"repository": "triton/vision", "tag": "1.0.0",
         "baseImage": f"nvcr.io/nvidia/tritonserver:24.08-py3@sha256:{'cd' * 32}",
         "minImage": f"nvcr.io/nvidia/tritonserver:24.08-py3-min@sha256:{'ef' * 32}",
         "username": "tenancy/jane"}


def stack(**changes: Any) -> dict[str, Any]:
    """A valid stack's values; `deployment__x=v` sets deployment.x."""
    values: dict[str, Any] = {
        "target": "oci",
        "spec": "group.yaml",
        "compartmentId": "ocid1.compartment.oc1..aaaa",
        "projectId": "ocid1.datascienceproject.oc1.iad.aaaa",
        "image": {"name": "iad.ocir.io/tenancy/triton/vision:1.0.0", "digest": DIGEST},
        "deployment": {"shape": {"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGbs": 16}},
        "smoke": {"auth": "resource_principal"},
    }
    for key, value in changes.items():
        if "__" in key:
            parent, child = key.split("__")
            values[parent] = {**copy.deepcopy(values.get(parent, {})), child: value}
        else:
            values[key] = value
    return values


def settings_of(**changes: Any) -> OciSettings:
    return read_settings(stack(**changes), "dev")


def group(*models: dict[str, Any], server_args: list[str] | None = None) -> GroupSpec:
    return GroupSpec.model_validate({"name": "vision", "server_args": server_args or [], "models": list(models)})


PRE = {"name": "pre", "backend": "python", "versions": {1: "pre.py"}}
CLASSIFIER = {"name": "classifier", "platform": "onnxruntime_onnx", "versions": {1: "c.onnx"}}
PIPELINE = {"name": "pipeline", "platform": "ensemble", "ensemble": {"steps": [
    {"model": "pre", "input_map": {"IN": "RAW"}, "output_map": {"OUT": "PIXELS"}},
    {"model": "classifier", "input_map": {"PIXELS": "PIXELS"}, "output_map": {"PROBS": "PROBS"}}]}}
VISION = group(PRE, CLASSIFIER, PIPELINE)


def found(settings: OciSettings, source: Any = VISION) -> list[str]:
    return [str(problem) for problem in preflight(settings, source)]


def test_a_good_stack_has_no_problem() -> None:
    assert preflight(settings_of(), VISION) == []
    assert preflight(settings_of(image={"build": BUILD}, regionKey="iad"), VISION) == []


# --- the container: command, environment, ports -------------------------------------------------------------


def test_the_command_serves_the_linked_repository_with_the_flags() -> None:
    spec = group(PRE, server_args=["--log-verbose=1"])
    settings = settings_of(deployment__serverArgs=["--exit-timeout-secs=5"])
    assert container_entrypoint(settings) == [
        "/bin/sh", "-c", LAYOUT_SCRIPT, "triton-groups-layout", "/opt/ds/model/deployed_model",
        "/tmp/triton-groups/models"]
    assert triton_command(spec, settings) == [
        "/opt/nvidia/nvidia_entrypoint.sh", "tritonserver", "--model-repository=/tmp/triton-groups/models",
        "--log-verbose=1", "--exit-timeout-secs=5"]
    bare = settings_of(deployment__nvidiaEntrypoint=False, deployment__serverPort=8080,
                       deployment__healthCheckPort=8080, deployment__modelRoot="/mnt/models",
                       deployment__repositoryDir="/var/triton")
    assert container_entrypoint(bare)[-2:] == ["/mnt/models", "/var/triton"]
    assert triton_command(None, bare) == ["tritonserver", "--model-repository=/var/triton", "--http-port=8080"]


def test_nvidia_entrypoint_runs_once_because_the_entrypoint_replaces_the_images() -> None:
    settings = settings_of()
    argv = [*container_entrypoint(settings), *triton_command(VISION, settings)]
    assert argv.count("/opt/nvidia/nvidia_entrypoint.sh") == 1
    assert container_entrypoint(settings)[0] == "/bin/sh", "an ENTRYPOINT is sent, so the image's own is not run"


def test_the_container_folders_are_absolute_and_the_repository_outside_the_read_only_root() -> None:
    with pytest.raises(UserError) as raised:
        settings_of(deployment__modelRoot="models/", deployment__repositoryDir="/opt/ds/model/deployed_model/x")
    assert [str(p) for p in raised.value.problems] == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.modelRoot: 'models/' is not a container folder: give an "
        "absolute path such as /opt/ds/model/deployed_model, without a trailing /, spaces or quotes"]
    with pytest.raises(UserError) as raised:
        settings_of(deployment__repositoryDir="/opt/ds/model/deployed_model/links")
    assert [str(p) for p in raised.value.problems] == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment: repositoryDir must be outside modelRoot (OCI mounts the "
        "artifacts read-only)"]


def test_the_container_fits_ocis_2048_bytes_for_a_group_of_500_models() -> None:
    models = [{"name": f"model_{index:03d}", "backend": "python", "versions": {1: "m.py"}} for index in range(500)]
    members = group(*models)
    settings = settings_of()
    assert container_command_size(settings, members) == container_command_size(settings, group(PRE)) < 2048
    assert [p for p in preflight(settings, members) if p.code == "oci.command_too_long"] == []


def test_the_environment_always_says_triton() -> None:
    assert container_environment(settings_of()) == {"CONTAINER_TYPE": "TRITON"}
    settings = settings_of(deployment__environment={"OMP_NUM_THREADS": "2"})
    assert container_environment(settings) == {"OMP_NUM_THREADS": "2", "CONTAINER_TYPE": "TRITON"}


def test_a_command_of_2048_bytes_or_more_is_refused() -> None:
    room = 2048 - container_command_size(settings_of(deployment__serverArgs=["--log-file=/tmp/"]), VISION)
    near = ["--log-file=/tmp/" + "x" * (room - 1)]
    assert found(settings_of(deployment__serverArgs=near)) == []
    too_long = ["--log-file=/tmp/" + "x" * room]
    [problem] = found(settings_of(deployment__serverArgs=too_long))
    assert problem == ("stacks/Pulumi.dev.yaml: triton-groups:deployment.serverArgs: the container entrypoint and "
                       "command are 2048 bytes; OCI takes under 2048 for both together: shorten serverArgs (here and "
                       "in the spec's server_args)")


def test_flags_the_command_sets_itself_cannot_be_repeated() -> None:
    spec = group(PRE, server_args=["--model-repository=/models"])
    assert found(settings_of(deployment__serverArgs=["--http-port=9000"]), spec) == [
        "group.yaml: server_args[0]: --model-repository is set by triton-groups (the repository is the one "
        "deployment.repositoryDir links every model into, the HTTP port deployment.serverPort); remove it",
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.serverArgs[0]: --http-port is set by triton-groups (the "
        "repository is the one deployment.repositoryDir links every model into, the HTTP port "
        "deployment.serverPort); remove it",
    ]


def test_environment_variables_follow_ocis_rules() -> None:
    env = {"CONTAINER_TYPE": "X", "1ST": "a", "TRAILING_": "b", "A" * 32: "c", "OK_NAME": "d"}
    assert found(settings_of(deployment__environment=env)) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.environment.CONTAINER_TYPE: CONTAINER_TYPE=TRITON is set "
        "by triton-groups; remove it",
        *[f"stacks/Pulumi.dev.yaml: triton-groups:deployment.environment.{key}: OCI takes variable names of 2 to 31 "
          "letters, digits and _, starting with a letter and not ending with _" for key in ("1ST", "TRAILING_",
                                                                                             "A" * 32)],
    ]
    big = {f"VAR_{index}": "v" * 100 for index in range(20)}
    [problem] = found(settings_of(deployment__environment=big))
    assert problem.startswith("stacks/Pulumi.dev.yaml: triton-groups:deployment.environment: the environment "
                              "variables are 2")
    assert problem.endswith("bytes; OCI takes under 2048 in total: remove some")


@pytest.mark.parametrize("port", [80, 1023, 8446, 8447, 24224, 65536])
def test_ports_outside_ocis_range_or_reserved_are_refused(port: int) -> None:
    problems = found(settings_of(deployment__serverPort=port, deployment__healthCheckPort=port))
    message = "cannot be used: OCI takes ports 1024 to 65535 except 8446, 8447, 24224"
    assert problems == [f"stacks/Pulumi.dev.yaml: triton-groups:deployment.serverPort: {port} {message}",
                        f"stacks/Pulumi.dev.yaml: triton-groups:deployment.healthCheckPort: {port} {message}"]


def test_the_health_check_goes_to_tritons_http_port() -> None:
    assert found(settings_of(deployment__healthCheckPort=8001)) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.healthCheckPort: Triton answers health checks on its HTTP "
        "port (8000, serverPort); set healthCheckPort to the same"]


# --- names and models ----------------------------------------------------------------------------------------


def test_display_names_have_1_to_255_characters_and_no_control_character() -> None:
    assert display_name_problem("Vision — prod (v2)") is None
    assert found(settings_of(deployment__displayName="x" * 256)) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.displayName: a display name has 1 to 255 characters, "
        "this one 256"]
    values = stack(project={"displayName": "vision\tprod"})
    del values["projectId"]
    assert found(read_settings(values, "dev")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:project.displayName: a display name cannot hold control characters "
        "(tabs, newlines, ...)"]
    assert found(settings_of(deployment__displayName=""))[0].endswith("has 1 to 255 characters, this one 0")


def test_names_made_from_a_repository_folder_are_checked_too(tmp_path: Path) -> None:
    folder = tmp_path / ("r" * 250)
    (folder / "add" / "1").mkdir(parents=True)
    (folder / "add" / "config.pbtxt").write_text('name: "add"\nbackend: "python"\n')
    [problem] = found(settings_of(), plan_from_folder(folder))
    assert problem == (f"group.yaml: the OCI display name '{'r' * 250}-group', made from the group's name, is not "
                       "valid: a display name has 1 to 255 characters, this one 256; rename the group (or its folder)")


def test_inference_keys_are_unique() -> None:
    spec = group(PRE, {**PRE, "versions": {2: "pre.py"}}, {**CLASSIFIER, "name": "Pre"})
    problems = preflight(settings_of(), spec)
    assert [str(p) for p in problems] == [
        "group.yaml: models[pre].name: inference key 'pre' is used twice; OCI routes requests by inference key, so "
        "each model name must be unique",
        "group.yaml: models[Pre].name: warning: 'Pre' and 'pre' differ only by case; as inference keys and folder "
        "names they may collide: rename one",
    ]
    assert [p.severity for p in problems] == [Severity.ERROR, Severity.WARNING]


def test_models_to_deploy_exist_and_bring_their_ensemble_steps() -> None:
    assert found(settings_of(models=["classifier", "missing"])) == [
        "stacks/Pulumi.dev.yaml: triton-groups:models[1]: no model 'missing' in the group; its models are "
        "['classifier', 'pipeline', 'pre']"]
    assert found(settings_of(models=["pipeline", "classifier"])) == [
        "stacks/Pulumi.dev.yaml: triton-groups:models: ensemble pipeline calls 'pre', which is not deployed; add "
        "'pre' to models (or remove models to deploy the whole group)"]
    assert found(settings_of(models=["pipeline", "classifier", "pre"])) == []
    assert found(settings_of(models=["pre", "pre"])) == [
        "stacks/Pulumi.dev.yaml: triton-groups:models[1]: 'pre' is listed twice; list it once"]


def test_an_ensemble_step_missing_from_the_group_is_reported_on_the_spec() -> None:
    assert found(settings_of(), group(PRE, PIPELINE)) == [
        "group.yaml: models[pipeline].ensemble.steps: ensemble pipeline calls model 'classifier', which is not in "
        "the group; add it"]


# --- the image -----------------------------------------------------------------------------------------------


def test_an_existing_image_is_an_ocir_image_pinned_by_digest() -> None:
    assert found(settings_of(image={"name": "iad.ocir.io/tenancy/triton/vision:1.0.0", "digest": "latest"})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:image.digest: 'latest' is not an image digest; give sha256:<64 "
        "lowercase hex> (from the push output, `docker inspect` or the OCIR console)"]
    assert found(settings_of(image={"name": "nvcr.io/nvidia/tritonserver:24.08-py3", "digest": DIGEST})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:image.name: 'nvcr.io/nvidia/tritonserver:24.08-py3' is not an OCIR "
        "image with a tag; model deployments pull only from OCIR: <region-key>.ocir.io/<namespace>/<repository>:<tag>"]
    other = "sha256:" + "cd" * 32
    assert found(settings_of(image={"name": f"iad.ocir.io/tenancy/triton/vision:1.0.0@{other}", "digest": DIGEST})) \
        == [f"stacks/Pulumi.dev.yaml: triton-groups:image.name: the name is pinned to {other} but image.digest is "
            f"{DIGEST}; remove the @digest from the name"]
    assert found(settings_of(image={"name": f"iad.ocir.io/tenancy/triton/vision:1.0.0@{DIGEST}", "digest": DIGEST})) \
        == []


def test_an_image_to_build_needs_its_registry_and_a_valid_name() -> None:
    bad = {**BUILD, "repository": "Triton/Vision", "tag": ".1", "username": "jane"}
    assert found(settings_of(image={"build": bad})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:regionKey: the OCIR registry of the image needs a region key: give "
        "regionKey (e.g. iad) or a known region (e.g. us-ashburn-1)",
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.repository: 'Triton/Vision' is not a repository name: "
        "lowercase letters, digits and . _ - separators, parts joined by /",
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.tag: '.1' is not an image tag: up to 128 letters, digits, "
        "_ . -, not starting with . or -",
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.username: an OCIR login is <tenancy-namespace>/<user name> "
        "(for federated users <namespace>/oracleidentitycloudservice/<user name>)",
    ]
    wrong_namespace = {**BUILD, "namespace": "othertenancy"}
    assert found(settings_of(image={"build": wrong_namespace}, region="us-ashburn-1")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.username: the login must start with the namespace: "
        "othertenancy/..."]
    assert found(settings_of(image={"build": BUILD}, region="us-ashburn-1", regionKey="fra")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:regionKey: fra is the key of eu-frankfurt-1, not of us-ashburn-1"]


def test_the_base_image_gives_its_min_image_and_should_be_pinned() -> None:
    unpinned = {**BUILD, "baseImage": "nvcr.io/nvidia/tritonserver:24.08-py3"}
    del unpinned["minImage"]
    problems = preflight(settings_of(image={"build": unpinned}, regionKey="iad"), VISION)
    assert [(str(p), p.severity) for p in problems] == [(
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.baseImage: warning: not pinned by digest: a rebuild may "
        "pick a different image; append @sha256:<digest>", Severity.WARNING)]
    no_min = {**BUILD}
    del no_min["minImage"]
    assert found(settings_of(image={"build": no_min}, regionKey="iad")) == [
        f"stacks/Pulumi.dev.yaml: triton-groups:image.build.minImage: cannot tell the -min image of "
        f"{BUILD['baseImage']!r}; give minImage (e.g. nvcr.io/nvidia/tritonserver:24.08-py3-min)"]


def test_a_built_image_needs_a_triton_release_whose_packages_are_known() -> None:
    old = {**BUILD, "baseImage": f"nvcr.io/nvidia/tritonserver:24.05-py3@sha256:{'cd' * 32}"}
    assert found(settings_of(image={"build": old}, regionKey="iad")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.baseImage: Triton 24.05 is not a release triton-groups "
        "knows the runtime packages of; use one of 24.08, 24.12, 25.08 (or bring your own image with image.name "
        "and image.digest)"]
    untagged = {**BUILD, "baseImage": f"nvcr.io/nvidia/tritonserver@sha256:{'cd' * 32}"}
    assert found(settings_of(image={"build": untagged}, regionKey="iad")) == [
        f"stacks/Pulumi.dev.yaml: triton-groups:image.build.tritonRelease: cannot tell the Triton release of "
        f"'nvcr.io/nvidia/tritonserver@sha256:{'cd' * 32}' from its tag; give tritonRelease (one of 24.08, 24.12, "
        "25.08)"]
    assert found(settings_of(image={"build": {**untagged, "tritonRelease": "24.12"}}, regionKey="iad")) == []


def test_the_image_platform_matches_the_shape() -> None:
    arm_shape = {"instanceShapeName": "VM.Standard.A1.Flex", "ocpus": 2, "memoryInGbs": 12}
    assert found(settings_of(image={"build": BUILD}, regionKey="iad", deployment__shape=arm_shape)) == [
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.platform: VM.Standard.A1.Flex runs linux/arm64 images, "
        "not linux/amd64"]
    arm = {**BUILD, "platform": "linux/arm64"}
    assert found(settings_of(image={"build": arm}, regionKey="iad", deployment__shape=arm_shape)) == []


def test_a_backend_ngc_does_not_ship_is_a_warning() -> None:
    spec = group(PRE, {"name": "forest", "backend": "my_forest", "versions": {1: "f.bin"}})
    problems = preflight(settings_of(image={"build": BUILD}, regionKey="iad"), spec)
    assert [(str(p), p.severity) for p in problems] == [(
        "stacks/Pulumi.dev.yaml: triton-groups:image.build.baseImage: warning: backend 'my_forest' is not in NGC's "
        "Triton image; the build copies it from baseImage, which must then hold it", Severity.WARNING)]


# --- shape and scaling ---------------------------------------------------------------------------------------


def test_a_flexible_shape_needs_ocpus_and_memory_and_a_fixed_one_takes_neither() -> None:
    assert found(settings_of(deployment__shape={"instanceShapeName": "VM.Standard.E4.Flex"})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.shape.ocpus: VM.Standard.E4.Flex is a flexible shape: give "
        "ocpus",
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.shape.memoryInGbs: VM.Standard.E4.Flex is a flexible "
        "shape: give memoryInGbs",
    ]
    assert found(settings_of(deployment__shape={"instanceShapeName": "VM.Standard2.1", "ocpus": 2})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.shape.ocpus: VM.Standard2.1 has a fixed size; only "
        "flexible shapes (*.Flex) take ocpus: remove it"]


def test_autoscaling_limits_are_consistent() -> None:
    auto = {"minInstances": 3, "maxInstances": 2, "scaleInCpuPercent": 80, "scaleOutCpuPercent": 70,
            "coolDownSeconds": 60}
    assert found(settings_of(deployment__scaling={"autoscaling": auto})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.scaling.autoscaling.minInstances: minInstances (3) is "
        "above maxInstances (2)",
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.scaling.autoscaling.scaleInCpuPercent: scaleInCpuPercent "
        "(80) must be below scaleOutCpuPercent (70)",
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.scaling.autoscaling.coolDownSeconds: OCI's minimum "
        "cool-down is 300 seconds",
    ]
    initial = {"minInstances": 1, "maxInstances": 2, "initialInstances": 3}
    assert found(settings_of(deployment__scaling={"autoscaling": initial})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.scaling.autoscaling.initialInstances: initialInstances (3) "
        "must be between minInstances and maxInstances"]


def test_tensorrt_models_need_a_gpu_shape() -> None:
    spec = group(PRE, {"name": "engine", "platform": "tensorrt_plan", "versions": {1: "e.plan"}})
    assert found(settings_of(), spec) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.shape.instanceShapeName: TensorRT models run only on GPUs, "
        "and VM.Standard.E4.Flex has none; choose a GPU shape (VM.GPU...)"]
    assert found(settings_of(deployment__shape={"instanceShapeName": "VM.GPU.A10.1"}), spec) == []


GPU_PRE = {**PRE, "instance_groups": [{"kind": "GPU", "count": 1, "gpus": [0]}]}
TWO_GPUS = {**CLASSIFIER, "instance_groups": [{"kind": "KIND_GPU", "gpus": [0, 1]}]}


def test_gpu_instance_groups_are_checked_against_the_shape_before_any_api_call() -> None:
    spec = group(GPU_PRE, TWO_GPUS)
    assert found(settings_of(), spec) == [
        "group.yaml: models[pre].instance_groups: model pre has a KIND_GPU instance group, but the stack's shape "
        "VM.Standard.E4.Flex has no GPU (0 GPUs); use kind: CPU, or a GPU shape "
        "(triton-groups:deployment.shape.instanceShapeName)",
        "group.yaml: models[classifier].instance_groups: model classifier has a KIND_GPU instance group, but the "
        "stack's shape VM.Standard.E4.Flex has no GPU (0 GPUs); use kind: CPU, or a GPU shape "
        "(triton-groups:deployment.shape.instanceShapeName)",
    ]
    one_gpu = settings_of(deployment__shape={"instanceShapeName": "VM.GPU.A10.1"})
    assert found(one_gpu, spec) == [
        "group.yaml: models[classifier].instance_groups: model classifier asks for GPU 1, but the stack's shape "
        "VM.GPU.A10.1 has 1 GPU (ids 0 to 0); lower its gpus, or choose a larger shape"]
    assert found(settings_of(deployment__shape={"instanceShapeName": "VM.GPU.A10.2"}), spec) == []
    assert found(settings_of(models=["pre"]), spec)[0].startswith("group.yaml: models[pre].instance_groups:")
    assert len(found(settings_of(models=["pre"]), spec)) == 1, "a model not deployed is not checked"


def test_gpu_checks_read_a_bring_your_own_config_too(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("")
    (tmp_path / "engine.pbtxt").write_text('name: "engine"\nbackend: "python"\n'
                                           'instance_group [{ kind: KIND_GPU gpus: [3] }]\n')
    (tmp_path / "group.yaml").write_text("name: vision\nmodels:\n  - {name: engine, config: engine.pbtxt, "
                                         "versions: {1: m.py}}\n")
    spec = load_spec(tmp_path / "group.yaml")
    assert found(settings_of(deployment__shape={"instanceShapeName": "BM.GPU.A10.4"}), spec) == []
    assert found(settings_of(deployment__shape={"instanceShapeName": "VM.GPU.A10.2"}), spec) == [
        "group.yaml:3: models[engine].instance_groups: model engine asks for GPU 3, but the stack's shape "
        "VM.GPU.A10.2 has 2 GPUs (ids 0 to 1); lower its gpus, or choose a larger shape"]


def test_a_shape_of_unknown_gpu_count_is_a_warning_naming_the_gpu_models() -> None:
    settings = settings_of(deployment__shape={"instanceShapeName": "VM.GPU.Future.3"})
    problems = preflight(settings, group(GPU_PRE, CLASSIFIER))
    assert [(str(p), p.severity) for p in problems] == [(
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.shape.instanceShapeName: warning: VM.GPU.Future.3 is not a "
        "shape triton-groups knows the GPU count of; the GPU instance groups of pre are not checked against it "
        "(Triton fails to load a model asking for a GPU the shape lacks)", Severity.WARNING)]
    assert preflight(settings, VISION) == [], "no model asks for a GPU: nothing to warn about"


# --- OCIDs, smoke, artifacts ---------------------------------------------------------------------------------


def test_ocids_must_be_of_the_right_kind() -> None:
    values = stack(compartmentId="ocid1.datascienceproject.oc1.iad.aaaa", deployment__subnetId="subnet-1",
                   logging={"logGroupId": "ocid1.loggroup.oc1.iad.a", "predictLogId": "ocid1.loggroup.oc1.iad.b"})
    assert found(read_settings(values, "dev")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:compartmentId: 'ocid1.datascienceproject.oc1.iad.aaaa' is not a "
        "compartment OCID (ocid1.compartment.<realm>...); copy it from the console",
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.subnetId: 'subnet-1' is not a subnet OCID "
        "(ocid1.subnet.<realm>...); copy it from the console",
        "stacks/Pulumi.dev.yaml: triton-groups:logging.predictLogId: 'ocid1.loggroup.oc1.iad.b' is not a log OCID "
        "(ocid1.log.<realm>...); copy it from the console",
    ]
    assert found(settings_of(compartmentId="ocid1.tenancy.oc1..aaaa")) == []


def test_iam_settings_are_checked() -> None:
    assert found(settings_of(iam={"create": True, "statements": []})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:iam.statements: an empty list creates a policy that allows nothing; "
        "remove statements to use the generated ones"]
    assert found(settings_of(iam={"create": True, "statements": ["read repos"], "name": "a b",
                                  "compartmentId": "ocid1.project.oc1..x"})) == [
        "stacks/Pulumi.dev.yaml: triton-groups:iam.statements[0]: an OCI policy statement starts with Allow, "
        "Endorse, Admit or Define",
        "stacks/Pulumi.dev.yaml: triton-groups:iam.name: a policy name has 1 to 100 letters, digits, '-', '_' or '.'",
        "stacks/Pulumi.dev.yaml: triton-groups:iam.compartmentId: 'ocid1.project.oc1..x' is not a compartment OCID "
        "(ocid1.compartment.<realm>...); copy it from the console",
    ]


def test_requests_need_a_routing_header() -> None:
    assert found(settings_of(smoke={"auth": "resource_principal", "headers": {"modelKey": [], "modelName": []}})) \
        == ["stacks/Pulumi.dev.yaml: triton-groups:smoke.headers: with neither modelKey nor modelName headers, "
            "requests cannot be routed to a model; give at least one"]


def test_api_key_smoke_tests_need_a_usable_oci_config_profile(tmp_path: Path) -> None:
    config = tmp_path / "config"
    missing = found(settings_of(smoke={"configFile": str(config)}))
    assert missing == [f"stacks/Pulumi.dev.yaml: triton-groups:smoke.configFile: no OCI config file at {config}; "
                       "create one (`oci setup config`) or use smoke.auth: resource_principal inside OCI"]
    key = tmp_path / "key.pem"
    config.write_text(textwrap.dedent(f"""\
        [DEFAULT]
        user=ocid1.user.oc1..aaaa
        fingerprint={':'.join(['aa'] * 16)}
        tenancy=ocid1.tenancy.oc1..aaaa
        region=us-ashburn-1
        key_file={key}
    """))
    assert found(settings_of(smoke={"configFile": str(config), "profile": "PROD"})) == [
        f"stacks/Pulumi.dev.yaml: triton-groups:smoke.profile: no profile [PROD] in {config}"]
    [unusable] = found(settings_of(smoke={"configFile": str(config)}))
    assert unusable.startswith(f"stacks/Pulumi.dev.yaml: triton-groups:smoke.profile: profile [DEFAULT] of {config} "
                               "is not usable: Config file")
    assert "key_file" in unusable
    key.write_text("the key is only read when a request is signed")
    assert found(settings_of(smoke={"configFile": str(config)})) == []


def test_artifacts_above_the_inline_limit_need_a_bucket() -> None:
    sizes = {"repository": 3 * 2**30, "small": 2**20}
    assert [str(p) for p in artifact_problems(settings_of(), sizes)] == [
        "stacks/Pulumi.dev.yaml: triton-groups:artifact.objectStorage: artifact repository is 3072.0 MiB, above the "
        "inline upload limit of 2048 MiB; give artifact.objectStorage.bucket to upload it through Object Storage (or "
        "raise artifact.inlineLimitMib)"]
    assert artifact_problems(settings_of(artifact={"objectStorage": {"bucket": "models"}}), sizes) == []
    assert artifact_problems(settings_of(artifact={"inlineLimitMib": 4096}), sizes) == []


# --- option groups of an update ------------------------------------------------------------------------------


def fingerprint(settings: OciSettings, identity: str = "repo-sha-1") -> OptionFingerprint:
    return option_fingerprint(settings, VISION, model_identity=identity)


def test_an_unchanged_stack_changes_no_option_group() -> None:
    before = fingerprint(settings_of())
    assert option_groups_changed(before, fingerprint(settings_of())) == set()
    assert option_groups_changed(None, before) == set()
    assert OptionFingerprint.from_json(before.to_json()) == before
    older = {"model": "a", "infrastructure": "b", "environment": "c"}
    assert OptionFingerprint.from_json(older) is None, "an older release's record is not compared"


@pytest.mark.parametrize(("changes", "identity", "groups"), [
    ({"deployment__displayName": "renamed"}, "repo-sha-1", {"name"}),
    ({"deployment__description": "new words"}, "repo-sha-1", {"name"}),
    ({"deployment__environment": {"OMP_NUM_THREADS": "2"}}, "repo-sha-1", {"environment_variables"}),
    ({}, "repo-sha-2", {"models"}),
    ({"models": ["pre"]}, "repo-sha-1", {"models"}),
    ({"layout": "per-model"}, "repo-sha-1", {"models"}),
    ({"deployment__shape": {"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 2, "memoryInGbs": 32}},
     "repo-sha-1", {"compute"}),
    ({"deployment__scaling": {"instanceCount": 2}}, "repo-sha-1", {"compute"}),
    ({"deployment__subnetId": "ocid1.subnet.oc1.iad.aaaa"}, "repo-sha-1", {"compute"}),
    ({"logging": {"logGroupId": "ocid1.loggroup.oc1.iad.a", "predictLogId": "ocid1.log.oc1.iad.b"}}, "repo-sha-1",
     {"logging"}),
    ({"deployment__bandwidthMbps": 20}, "repo-sha-1", {"bandwidth_or_byoc"}),
    ({"image": {"name": "iad.ocir.io/tenancy/triton/vision:1.0.1", "digest": "sha256:" + "01" * 32}}, "repo-sha-1",
     {"bandwidth_or_byoc"}),
    ({"deployment__serverArgs": ["--log-info=1"]}, "repo-sha-1", {"bandwidth_or_byoc"}),
    ({"deployment__serverPort": 8080, "deployment__healthCheckPort": 8080}, "repo-sha-1", {"bandwidth_or_byoc"}),
    ({"deployment__bandwidthMbps": 20, "deployment__serverArgs": ["--log-info=1"]}, "repo-sha-1",
     {"bandwidth_or_byoc"}),
])
def test_each_change_lands_in_ocis_option_group(changes: dict[str, Any], identity: str, groups: set[str]) -> None:
    before = fingerprint(settings_of())
    assert option_groups_changed(before, fingerprint(settings_of(**changes), identity)) == groups


def test_a_built_image_is_identified_by_its_pushed_digest() -> None:
    settings = settings_of(image={"build": BUILD}, regionKey="iad")
    recipe = option_fingerprint(settings, VISION, model_identity="m")
    pushed = option_fingerprint(settings, VISION, model_identity="m", image_digest=DIGEST)
    assert option_groups_changed(recipe, pushed) == {"bandwidth_or_byoc"}
    assert option_groups_changed(pushed, option_fingerprint(settings, VISION, model_identity="m",
                                                            image_digest=DIGEST)) == set()


def test_a_change_of_several_groups_is_detected_and_explained() -> None:
    before = fingerprint(settings_of())
    new_image = {"name": "iad.ocir.io/tenancy/triton/vision:2", "digest": "sha256:" + "02" * 32}
    after = fingerprint(settings_of(image=new_image, deployment__scaling={"instanceCount": 3},
                                    deployment__displayName="v2"), identity="repo-2")
    groups = option_groups_changed(before, after)
    assert groups == {"name", "models", "compute", "bandwidth_or_byoc"}
    message = split_message(groups)
    assert message.startswith(
        "this update changes the name and description, models, compute and load-balancer bandwidth or BYOC options "
        "of the live model deployment at once, but OCI updates a live deployment one option group at a time (name "
        "and description; environment variables; models; compute; logging; load-balancer bandwidth or BYOC). Split "
        "it into one `pulumi up` per group:")
    assert "1. name and description (triton-groups:deployment.displayName, " in message
    assert "3. compute (triton-groups:deployment.shape, triton-groups:deployment.scaling, " in message
    assert ("4. load-balancer bandwidth or BYOC (triton-groups:deployment.bandwidthMbps, triton-groups:image, "
            in message)
    assert split_message({"logging", "environment_variables"}).startswith(
        "this update changes the environment variables and logging options")


def test_model_group_infrastructure_changes_replace_the_deployment_and_single_model_ones_do_not() -> None:
    bigger = {"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 4, "memoryInGbs": 64}
    for layout, replaced in (("per-model", True), ("single", False)):
        before = fingerprint(settings_of(layout=layout))
        for changes in ({"deployment__shape": bigger}, {"deployment__scaling": {"instanceCount": 2}},
                        {"deployment__bandwidthMbps": 50}):
            reason = replacement_reason(before, fingerprint(settings_of(layout=layout, **changes)), layout)
            assert (reason is not None) is replaced, (layout, changes)
        assert replacement_reason(before, fingerprint(settings_of(layout=layout), "other"), layout) is None
    switched = replacement_reason(fingerprint(settings_of()), fingerprint(settings_of(layout="per-model")),
                                  "per-model")
    assert switched == "the layout (and so the deployment type) changes"
    assert replacement_reason(None, fingerprint(settings_of()), "single") is None


def test_spec_problems_carry_the_spec_line_from_a_spec_or_its_plan(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("")
    (tmp_path / "group.yaml").write_text(textwrap.dedent("""\
        name: vision
        models:
          - name: zeta
            platform: ensemble
            ensemble:
              steps: [{model: absent, input_map: {IN: X}, output_map: {OUT: Y}}]
          - {name: alpha, backend: python, versions: {1: m.py}}
    """))
    spec = load_spec(tmp_path / "group.yaml")
    expected = ["group.yaml:3: models[zeta].ensemble.steps: ensemble zeta calls model 'absent', which is not in the "
                "group; add it"]
    assert found(settings_of(), spec) == expected
    assert found(settings_of(), plan_from_spec(spec)) == expected
