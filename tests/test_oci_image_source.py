"""The OCI image's source rule, written once in the settings and applied alike by the settings and the component."""

from __future__ import annotations

from typing import Any

import pytest

from components.core.oci_target.settings import read_settings
from components.core.problems import UserError
from components.oci.image import ExistingImage, ImageBuild, TritonImage, TritonImageArgs

DIGEST = "sha256:" + "ab" * 32
NAME = "iad.ocir.io/tenancy/triton/vision:1.0.0"
BUILD = {"repository": "triton/vision", "tag": "1", "baseImage": "nvcr.io/nvidia/tritonserver:24.08-py3",
         "username": "tenancy/jane"}
ONE_SOURCE = ("give either name and digest (an existing OCIR image) or build: {repository, tag, baseImage, "
              "username} (an image to build)")
DIGEST_REQUIRED = ("image.digest is required with image.name: a deployment is pinned to the image's digest "
                   "(sha256:<64 hex>, shown by `docker inspect` or the OCIR console)")
DIGEST_WITH_BUILD = "image.digest goes with image.name; a built image is pinned to its pushed digest"
NOT_A_DIGEST = ("'latest' is not an image digest; give sha256:<64 lowercase hex> (from the push output, "
                "`docker inspect` or the OCIR console)")


def stack_values(image: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": "oci", "spec": "examples/vision/group.yaml", "compartmentId": "ocid1.compartment.oc1..aaaa",
        "projectId": "ocid1.datascienceproject.oc1.iad.aaaa", "regionKey": "iad", "image": image,
        "deployment": {"shape": {"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGbs": 16}},
    }


@pytest.mark.parametrize(
    ("image", "code", "message"),
    [
        ({}, "oci.image_source", ONE_SOURCE),
        ({"digest": DIGEST}, "oci.image_source", ONE_SOURCE),
        ({"name": NAME, "build": BUILD}, "oci.image_source", ONE_SOURCE),
        ({"name": NAME, "digest": DIGEST, "build": BUILD}, "oci.image_source", ONE_SOURCE),
        ({"name": NAME}, "oci.image_digest", DIGEST_REQUIRED),
        ({"build": BUILD, "digest": DIGEST}, "oci.image_digest", DIGEST_WITH_BUILD),
    ],
)
def test_each_bad_combination_of_the_stack_image_gives_its_one_code_and_message(
    image: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(UserError) as raised:
        read_settings(stack_values(image), "dev")

    assert [(p.field, p.code, p.message) for p in raised.value.problems] == [("triton-groups:image", code, message)]


@pytest.mark.parametrize(
    "args",
    [TritonImageArgs(compartment_id="c"),
     TritonImageArgs(compartment_id="c", existing=ExistingImage(NAME, DIGEST),
                     build=ImageBuild(registry="iad.ocir.io", repository="triton/vision", tag="1", dockerfile="",
                                      context_dir="ctx", username="tenancy/jane", password="token"))],
)
def test_the_component_refuses_neither_or_both_sources_with_the_settings_code_and_message(
    args: TritonImageArgs,
) -> None:
    with pytest.raises(UserError) as raised:
        TritonImage("image", args)

    assert [(p.field, p.code, p.message) for p in raised.value.problems] == [("image", "oci.image_source", ONE_SOURCE)]


def test_the_component_and_the_preflight_refuse_a_bad_digest_with_one_code_and_message() -> None:
    from components.core.oci_target.preflight import preflight
    from components.core.spec import GroupSpec

    with pytest.raises(UserError) as raised:
        TritonImage("image", TritonImageArgs(compartment_id="c", existing=ExistingImage(NAME, "latest")))
    settings = read_settings(stack_values({"name": NAME, "digest": "latest"}), "dev")
    spec = GroupSpec.model_validate({"name": "vision", "models": [
        {"name": "pre", "backend": "python", "versions": {1: "pre.py"}}]})
    found = [p for p in preflight(settings, spec) if p.field == "triton-groups:image.digest"]

    assert [(p.code, p.message) for p in raised.value.problems] == [("oci.image_digest", NOT_A_DIGEST)]
    assert [(p.code, p.message) for p in found] == [("oci.image_digest", NOT_A_DIGEST)]
