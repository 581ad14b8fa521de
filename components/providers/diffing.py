"""What changed between a resource's recorded outputs and its new inputs, as the providers' diffs need it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi.runtime.rpc import UNKNOWN


def is_unknown(value: Any) -> bool:
    """True when `value` is, or holds, a value the engine does not know yet (during a preview)."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(item) for item in value)
    return False


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The `keys` whose new value differs from the recorded one, or is not known yet."""
    return [key for key in keys if is_unknown(news.get(key)) or olds.get(key) != news.get(key)]
