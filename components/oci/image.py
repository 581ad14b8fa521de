"""TritonImage: the Triton server image a model deployment runs, always pinned by digest.

Either an image that already exists in a registry, given with its digest, or a build: an OCIR
repository (`artifacts.ContainerRepository`) and a `pulumi_docker_build.Image` pushed to
`<region-key>.ocir.io/<namespace>/<repository>:<tag>`, the namespace given or read with
`objectstorage.get_namespace`. The registry password (an OCI auth token) is wrapped as a Pulumi
secret here, whatever the caller passes, so it is encrypted in the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker_build as docker_build
import pulumi_oci as oci

from components.core.oci_target.settings import IMAGE_DIGEST, image_digest_problem, image_source_problem
from components.core.problems import Problem, UserError


@dataclass(frozen=True)
class ExistingImage:
    """An image already pushed: `image` is `<registry>/<path>:<tag>` and `digest` is `sha256:<64 hex>`."""

    image: str
    digest: str


@dataclass(frozen=True)
class ImageBuild:
    """Build the server image from `dockerfile` (text) in `context_dir` and push it to OCIR.

    `registry` is `<region-key>.ocir.io` (OciSettings.ocir_registry); `username` the OCIR login,
    `<namespace>/<user name>`; `password` an auth token (pass `pulumi.Config().require_secret(...)`).
    `namespace` None looks the tenancy's namespace up.
    """

    registry: str
    repository: str
    tag: str
    dockerfile: str
    context_dir: str
    username: str
    password: pulumi.Input[str]
    namespace: pulumi.Input[str] | None = None
    platform: str = "linux/amd64"


@dataclass(frozen=True)
class TritonImageArgs:
    """Exactly one of `existing` or `build`; `compartment_id` holds the OCIR repository of a build."""

    compartment_id: pulumi.Input[str]
    existing: ExistingImage | None = None
    build: ImageBuild | None = None


class TritonImage(pulumi.ComponentResource):
    """The server image. Outputs `image_name` (no digest) and `image_digest` (`sha256:...`)."""

    image_name: pulumi.Output[str]
    image_digest: pulumi.Output[str]

    def __init__(self, name: str, args: TritonImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(args)
        super().__init__("triton-groups:oci:TritonImage", name, None, opts)
        if args.existing is not None:
            self.image_name = pulumi.Output.from_input(args.existing.image)
            self.image_digest = pulumi.Output.from_input(args.existing.digest)
        else:
            assert args.build is not None
            self.image_name, self.image_digest = self._build(name, args.compartment_id, args.build)
        self.register_outputs({"image_name": self.image_name, "image_digest": self.image_digest})

    def _build(
        self, name: str, compartment_id: pulumi.Input[str], build: ImageBuild
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        child = pulumi.ResourceOptions(parent=self)
        namespace = (
            pulumi.Output.from_input(build.namespace) if build.namespace is not None
            else oci.objectstorage.get_namespace_output(
                compartment_id=compartment_id, opts=pulumi.InvokeOutputOptions(parent=self)
            ).namespace
        )
        repository = oci.artifacts.ContainerRepository(
            f"{name}-repository",
            compartment_id=compartment_id,
            display_name=build.repository,
            is_public=False,
            opts=child,
        )
        image_name = pulumi.Output.concat(build.registry, "/", namespace, "/", build.repository, ":", build.tag)
        image = docker_build.Image(
            f"{name}-build",
            push=True,
            build_on_preview=False,
            tags=[image_name],
            context=docker_build.BuildContextArgs(location=build.context_dir),
            dockerfile=docker_build.DockerfileArgs(inline=build.dockerfile),
            platforms=[docker_build.Platform(build.platform)],
            registries=[
                docker_build.RegistryArgs(
                    address=build.registry,
                    username=build.username,
                    password=pulumi.Output.secret(build.password),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[repository]),
        )
        return image_name, image.digest


def _check(args: TritonImageArgs) -> None:
    """Refuse an image that could reach a deployment without a digest: the settings' rules (`image_source_problem`,
    `image_digest_problem`), for a program that builds these arguments itself."""
    existing = args.existing
    source = image_source_problem(existing.image if existing else None, existing.digest if existing else None,
                                  args.build)
    if source is not None:
        raise UserError(Problem("", "image", source[1], source[0]))
    if existing is None:
        return
    problems = []
    if "@" in existing.image:
        problems.append(Problem("", "image.name", f"'{existing.image}' carries a digest; give the name and tag "
                                "only, and the digest separately", "oci.image_name"))
    if (reason := image_digest_problem(existing.digest)) is not None:
        problems.append(Problem("", "image.digest", reason, IMAGE_DIGEST))
    if problems:
        raise UserError(problems)
