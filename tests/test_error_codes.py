"""The problem codes are a closed set (components/core/error_codes.py): listed before use, all used, one shape."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from components.core.error_codes import AREAS, CODE_SHAPE, CODES, is_known, open_families
from components.core.problems import Problem

PACKAGE = Path(__file__).resolve().parents[1] / "components"
CODE_ARGUMENTS = {"Problem": 3, "broken": 0, "PydanticCustomError": 0}
"""Calls whose argument at this position (or keyword `code`) is a problem code."""


def string_literals() -> set[str]:
    return {node.value for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def literal_codes_in_calls() -> set[str]:
    """The string codes written directly where a Problem (or a spec rule, or a pydantic error) takes its code."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            argument = next((kw.value for kw in node.keywords if kw.arg == "code"), None)
            if argument is None and name in CODE_ARGUMENTS and len(node.args) > CODE_ARGUMENTS[name]:
                argument = node.args[CODE_ARGUMENTS[name]]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
    return found


def test_every_code_written_where_a_problem_takes_one_is_listed() -> None:
    assert sorted(code for code in literal_codes_in_calls() if code not in CODES and not is_known(code)) == []


def test_every_listed_code_is_written_somewhere_and_has_the_shape() -> None:
    literals = string_literals()
    assert sorted(code for code in CODES if code not in literals) == []
    assert sorted(code for code in CODES if not CODE_SHAPE.match(code) or code.split(".")[0] not in AREAS) == []
    assert all(family.split(".")[0] in AREAS and words for family, words in open_families().items())


def test_a_problem_refuses_a_code_that_is_not_listed() -> None:
    assert Problem("f", "x", "fine", "spec.name").code == "spec.name"
    with pytest.raises(ValueError, match="not in the registry"):
        Problem("f", "x", "typo", "spec.nmae")
    with pytest.raises(ValueError, match="not in the registry"):
        Problem("f", "x", "no area", "whatever")
