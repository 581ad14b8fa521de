"""User errors in a Pulumi program: a clear error without a traceback, every problem on its own line."""

from __future__ import annotations

import pulumi

from components.core.problems import Problem, UserError


def run_error(error: UserError | list[Problem], what: str) -> pulumi.RunError:
    """A RunError (the CLI shows its message, no traceback) saying `what` failed, to raise.

    One problem goes into the message; several are each logged with pulumi.log.error and counted in it.
    `what` says what could not be done, e.g. "the spec examples/vision/group.yaml is not valid".
    """
    problems = error.problems if isinstance(error, UserError) else error
    if len(problems) == 1:
        return pulumi.RunError(f"{what}: {problems[0]}")
    for problem in problems:
        pulumi.log.error(str(problem))
    return pulumi.RunError(f"{what}: {len(problems)} problems, listed above")
