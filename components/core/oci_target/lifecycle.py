"""A model deployment's lifecycle states, as the Data Science API reports them: the one rule of when to stop waiting.

A deployment being created or updated (CREATING, UPDATING) may still become ACTIVE; any other state is final
for whoever waits on it (FAILED, NEEDS_ATTENTION, INACTIVE, DELETING, DELETED): the smoke transport and the
rollback both stop there instead of polling until their deadline.
"""

from __future__ import annotations

ACTIVE = "ACTIVE"
WAITING_STATES = frozenset({"CREATING", "UPDATING"})
"""Model deployment states after which it may still become ACTIVE; any other non-ACTIVE state is final."""


def settled(state: str | None) -> bool:
    """Whether a deployment in `state` is done changing (ACTIVE or final); None (unknown) is not settled."""
    return state is not None and state not in WAITING_STATES
