"""LocalTritonDeployment: a group built, served on a local tritonserver and smoke-tested, as one component.

repository (artifact zips and content digests) -> server (detached tritonserver, reloads changed
models) -> smoke test (runs whenever the artifacts, the server process or the cases change). A model
edit therefore rebuilds the artifacts, reloads just that model and runs the smoke cases again; a
failing case fails the deployment with the smoke summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.core.content import Content, model_digests
from components.providers.local_server import LocalTritonServer, LocalTritonServerArgs
from components.providers.repository import TritonModelRepository, TritonModelRepositoryArgs
from components.providers.smoke_test import InferenceSmokeTest, InferenceSmokeTestArgs

PROTOCOLS = ("http", "grpc")


@dataclass(frozen=True)
class LocalTritonDeploymentArgs:
    """What to serve, as the program computed it from the one plan it loaded, and where.

    `content` (`package.plan_content`) and `cases_sha256` (`content.cases_digest`) decide what is rebuilt,
    reloaded and tested again; `deployment_facts` are recorded for the policy pack. `state_dir` holds the
    server's record, repository and log, and `artifacts/`; `triton-groups stop` (`make stop`) finds the server
    there too.
    """

    spec_path: pulumi.Input[str]
    content: pulumi.Input[Content]
    configs: Mapping[str, Any]
    cases_sha256: str
    cases: Mapping[str, Mapping[str, str]]
    state_dir: str
    deployment_facts: Mapping[str, Any]
    http_port: pulumi.Input[int] | None = None
    protocol: str = "http"
    rollback: bool = True
    """Put the server back on the last passing release when the smoke test after an update fails."""


class LocalTritonDeployment(pulumi.ComponentResource):
    """Outputs `endpoint` (the smoke tests' URL), `endpoints` ({http, grpc}), `pid`, `artifacts`,
    `smoke_summary` and `smoke_report` (JSON: passed, counts, p50/p99 latency)."""

    endpoint: pulumi.Output[str]
    endpoints: pulumi.Output[dict[str, str]]
    pid: pulumi.Output[int]
    artifacts: pulumi.Output[list[dict[str, Any]]]
    smoke_summary: pulumi.Output[str]
    smoke_report: pulumi.Output[dict[str, Any]]
    smoke_passed: pulumi.Output[dict[str, str]]
    """What the smoke test last passed on: {repository_sha256, cases_sha256, passed_at}. A failed test leaves
    the previous record, so this never names a repository whose cases failed."""

    def __init__(
        self, name: str, args: LocalTritonDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("triton-groups:local:LocalTritonDeployment", name, None, opts)
        if args.protocol not in PROTOCOLS:
            raise ValueError(f"protocol is one of {', '.join(PROTOCOLS)}, not {args.protocol!r}")
        state_dir = args.state_dir
        self.repository = TritonModelRepository(
            f"{name}-repository",
            TritonModelRepositoryArgs(args.spec_path, args.content, f"{state_dir}/artifacts", configs=args.configs),
            pulumi.ResourceOptions(parent=self),
        )
        self.server = LocalTritonServer(
            f"{name}-server",
            LocalTritonServerArgs(
                spec_path=args.spec_path,
                models=self.repository.content.apply(model_digests),
                state_dir=state_dir,
                http_port=args.http_port,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.repository]),
        )
        self.endpoint = self.server.http_url if args.protocol == "http" else self.server.grpc_url
        self.smoke_test = InferenceSmokeTest(
            f"{name}-smoke",
            InferenceSmokeTestArgs(
                spec_path=args.spec_path,
                endpoint=self.endpoint,
                repository_sha256=self.repository.repository_sha256,
                cases_sha256=args.cases_sha256,
                cases=args.cases,
                transport=args.protocol,
                deployment_id=self.server.pid.apply(str),
                deployment_facts=args.deployment_facts,
                rollback={"state_dir": state_dir} if args.rollback else None,
                artifacts=self.repository.artifacts,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.server]),
        )
        self.endpoints = pulumi.Output.all(http=self.server.http_url, grpc=self.server.grpc_url)
        self.pid = self.server.pid
        self.artifacts = self.repository.artifacts
        self.smoke_summary = self.smoke_test.summary
        self.smoke_report = self.smoke_test.report
        self.smoke_passed = pulumi.Output.all(
            repository_sha256=self.smoke_test.repository_sha256,
            cases_sha256=self.smoke_test.cases_sha256,
            passed_at=self.smoke_test.passed_at,
        )
        self.register_outputs({
            "endpoint": self.endpoint,
            "endpoints": self.endpoints,
            "pid": self.pid,
            "artifacts": self.artifacts,
            "smoke_summary": self.smoke_summary,
            "smoke_report": self.smoke_report,
            "smoke_passed": self.smoke_passed,
        })
