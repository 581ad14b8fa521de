"""User errors in a Pulumi program and in its dynamic providers: one clear message, never a traceback.

- In the program, `run_error` turns problems into a `pulumi.RunError` (the CLI shows its message alone).
- In a provider, a create/update/delete that fails because of something the user can fix raises a
  `DeploymentError` (or the core's `UserError`). Pulumi's dynamic provider server reports every exception
  with `traceback.format_exc()`; `show_user_errors_plainly` (installed when this module is imported in the
  engine's provider process, `python -m pulumi.dynamic`) makes that report the message alone for these two
  kinds, so `pulumi up` prints "error: FAIL: 7/8 cases passed ..." and not a Python traceback. Any other
  exception is a bug in the tool and keeps its traceback.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

import pulumi

from components.core.problems import Problem, UserError


class DeploymentError(Exception):
    """A provider step failed for a reason the user can act on; the message says what failed and what to do."""


USER_ERRORS: tuple[type[BaseException], ...] = (DeploymentError, UserError)


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


def plain_format_exc(original: Callable[..., str]) -> Callable[..., str]:
    """`traceback.format_exc` that gives a user error's message alone and anything else `original`'s report."""

    def format_exc(limit: int | None = None, chain: bool = True) -> str:
        current = sys.exc_info()[1]
        if isinstance(current, USER_ERRORS):
            return str(current)
        return original(limit, chain)

    format_exc.__wrapped__ = original  # type: ignore[attr-defined]
    return format_exc


def in_provider_process() -> bool:
    """True in the engine's Python dynamic provider process (`python -m pulumi.dynamic`)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "pulumi.dynamic.__main__"


def show_user_errors_plainly() -> None:
    """Make the provider server report user errors as their message alone (once per process)."""
    if not hasattr(traceback.format_exc, "__wrapped__"):
        traceback.format_exc = plain_format_exc(traceback.format_exc)


if in_provider_process():
    show_user_errors_plainly()
