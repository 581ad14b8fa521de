"""Group specs written to the working folder, for tests of what load_spec accepts and how it reports mistakes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from components.core.problems import UserError
from components.core.spec import load_spec

SPEC = "group.yaml"
"""Where `write_spec` writes, relative to the working folder; problems name the file so."""


def write_spec(text: str) -> str:
    """Write a spec whose first line is the first line of `text` (dedented); return its path as given to load_spec."""
    Path(SPEC).write_text(textwrap.dedent(text).lstrip("\n"))
    return SPEC


def spec_problems(text: str) -> list[str]:
    """The problems load_spec reports for `text`, one string per problem, as the CLI prints them."""
    with pytest.raises(UserError) as caught:
        load_spec(write_spec(text))
    return [str(p) for p in caught.value.problems]
