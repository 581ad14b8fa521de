"""The plumbing the dynamic providers share, so that each provider class says only what its job is.

`TritonProvider` (after `pulumi.dynamic.ResourceProvider`): no fields and plain pickles (nothing secret is ever
in a provider or its inputs: see the package docstring), a create that names the resource `<id_prefix>-<random>`
and records `outputs(props)`, an update that records `outputs(news)`, a read that keeps what the state says, a
diff over `rerun_keys` (an input the engine does not know yet counts as changed), and a check that accepts.
A subclass sets `id_prefix` and `rerun_keys`, implements `outputs`, and overrides what its job does differently.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.providers.diffing import changed_keys


class TritonProvider(ResourceProvider):
    """A provider whose create and update both run `outputs` on the inputs; see the module docstring."""

    serialize_as_secret_always = False
    id_prefix: ClassVar[str] = "resource"
    rerun_keys: ClassVar[tuple[str, ...]] = ()

    def outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        """The resource's outputs for the inputs `props`: the job itself (build, start, test)."""
        raise NotImplementedError(f"{type(self).__name__} must say what its resource does")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{self.id_prefix}-{uuid.uuid4().hex[:12]}", self.outputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=bool(changed_keys(olds, news, self.rerun_keys)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self.outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)
