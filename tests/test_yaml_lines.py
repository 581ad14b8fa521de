"""The line-aware YAML loader: values as PyYAML's SafeLoader gives them, the line of every key and item, and bounds
that make hostile YAML fail fast in one line: alias bombs, recursive aliases, nesting too deep.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from spec_files import spec_problems

from components._internal import yaml_lines
from components._internal.yaml_lines import ALIAS_BUDGET, MAX_DEPTH, YAMLRefused, load_with_lines
from components.cli import main

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
"""Nine levels of nine aliases each: 9**9 (387 million) strings once expanded, in ten lines."""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_values_and_lines() -> None:
    data, lines = load_with_lines("name: g\nmodels:\n  - name: a\n    dims: [1, 2]\n  - name: b\n")

    assert data == {"name": "g", "models": [{"name": "a", "dims": [1, 2]}, {"name": "b"}]}
    assert lines[("models",)] == 2
    assert lines[("models", 1, "name")] == 5
    assert lines[("models", 0, "dims", 1)] == 4


@pytest.mark.parametrize("scalar", [
    "1", "-7", "+3", "0x1F", "0o17", "017", "1_000", "190:20:30", "1.5", "1.0e-5", "-2.5E+3", "1_000.5", ".5", "1.",
    "6.8523015e+5", ".inf", "-.Inf", ".NaN", "1e5", "true", "No", "off", "null", "~", "2026-12-01",
    "2026-12-01 10:20:30", "'quoted'", '"1"', "!!str 12", "!!float 1", "text",
])
def test_scalars_are_what_pyyaml_safe_load_makes_of_them(scalar: str) -> None:
    data, _ = load_with_lines(f"x: {scalar}\n")
    expected = yaml.safe_load(f"x: {scalar}\n")["x"]

    assert type(data["x"]) is type(expected)
    assert data["x"] == expected or (data["x"] != data["x"] and expected != expected)  # NaN


def test_aliases_within_the_budget_are_expanded() -> None:
    data, lines = load_with_lines("base: &g [{kind: CPU, count: 1}]\nm1: {groups: *g}\nm2: {groups: *g}\n")

    assert data["m1"] == data["m2"] == {"groups": [{"kind": "CPU", "count": 1}]}
    assert lines[("m2", "groups")] == 3, "an alias is located where it is used"
    assert lines[("m2", "groups", 0, "kind")] == 1, "what it stands for, where it is written"


def test_an_alias_bomb_is_refused_quickly_with_its_line() -> None:
    began = time.monotonic()
    with pytest.raises(YAMLRefused) as refused:
        load_with_lines(BOMB)

    assert time.monotonic() - began < 2
    assert refused.value.problem_mark is not None and refused.value.problem_mark.line + 1 == 5
    assert f"aliases may add {ALIAS_BUDGET:,} values plus as many as the document holds" in str(refused.value.problem)


def test_an_alias_bomb_in_a_spec_is_one_line_with_file_line_and_field() -> None:
    [problem] = spec_problems("name: g\n" + BOMB)

    assert re.fullmatch(r"group\.yaml:6: e\[0\]: refused: aliases here expand the document beyond 10,0[0-9]{2} "
                        r"values \(aliases may add 10,000 values plus as many as the document holds\); write the "
                        r"values out or use fewer nested aliases", problem), problem


@pytest.mark.parametrize(("text", "line", "field"), [
    ("x: &a [*a]\n", 1, "x[0]"),
    ("name: g\nx: &a\n  y: *a\n", 3, "x.y"),
    ("name: g\nmodels: &m\n  - name: a\n    more: *m\n", 4, "models[0].more"),
])
def test_a_recursive_alias_is_one_clear_line(text: str, line: int, field: str) -> None:
    assert spec_problems(text) == [
        f"group.yaml:{line}: {field}: refused: this alias refers to the value it is part of (a recursive alias), "
        "which would be infinite; write the value out instead"
    ]


def test_a_recursive_alias_through_the_cli_is_exit_1_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "group.yaml").write_text("x: &a [*a]\n")

    assert main(["validate", "group.yaml"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err
    assert err.splitlines()[0].startswith("group.yaml:1: x[0]: refused: this alias refers to the value it is part of")


@pytest.mark.parametrize("text", ["x: " + "[" * 999 + "]" * 999 + "\n", "".join(" " * i + "a:\n" for i in range(900))])
def test_nesting_too_deep_is_refused(text: str) -> None:
    with pytest.raises(YAMLRefused, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_with_lines(text)


def test_the_c_parser_of_libyaml_is_used_when_pyyaml_has_it() -> None:
    """The pure-Python parser costs about 10 ms per kB: a spec of 8,000 models (10 MB) took minutes."""
    assert yaml.__with_libyaml__
    assert yaml_lines._LOADER is yaml.CSafeLoader
