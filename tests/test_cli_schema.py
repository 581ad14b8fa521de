"""`triton-groups schema`: the JSON Schema of a group spec, for editors and CI linting of spec files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cli import main

EXAMPLE_SPEC = Path(__file__).resolve().parents[1] / "examples" / "vision" / "group.yaml"

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
KNOWN_KEYWORDS = {
    "$ref", "$defs", "type", "properties", "additionalProperties", "required", "items", "anyOf", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "default", "title",
    "description",
}


def violations(instance: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> list[str]:
    """Where `instance` breaks `schema`: a small JSON Schema checker for the keywords pydantic emits.

    Used when the `jsonschema` package is not installed; refuses any keyword it does not know, so
    that a schema it cannot fully check never passes silently.
    """
    unknown = set(schema) - KNOWN_KEYWORDS
    assert not unknown, f"{where}: the test's schema checker does not know {sorted(unknown)}"
    if "$ref" in schema:
        return violations(instance, root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root, where)
    if "anyOf" in schema:
        options = [violations(instance, option, root, where) for option in schema["anyOf"]]
        return [] if any(not found for found in options) else [f"{where}: matches none of anyOf: {options}"]
    kind = schema.get("type")
    if kind is not None:
        is_bool = isinstance(instance, bool)
        if not isinstance(instance, JSON_TYPES[kind]) or (is_bool and kind in ("integer", "number")):
            return [f"{where}: {instance!r} is not of type {kind}"]
    found: list[str] = []
    if "enum" in schema and instance not in schema["enum"]:
        found.append(f"{where}: {instance!r} is not one of {schema['enum']}")
    if "const" in schema and instance != schema["const"]:
        found.append(f"{where}: {instance!r} is not {schema['const']!r}")
    if "minimum" in schema and instance < schema["minimum"]:
        found.append(f"{where}: {instance} < {schema['minimum']}")
    if "maximum" in schema and instance > schema["maximum"]:
        found.append(f"{where}: {instance} > {schema['maximum']}")
    if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
        found.append(f"{where}: {instance} <= {schema['exclusiveMinimum']}")
    if "minLength" in schema and len(instance) < schema["minLength"]:
        found.append(f"{where}: shorter than {schema['minLength']}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            found.append(f"{where}: fewer than {schema['minItems']} items")
        for index, item in enumerate(instance):
            found += violations(item, schema.get("items", {}), root, f"{where}[{index}]")
    if isinstance(instance, dict):
        if len(instance) < schema.get("minProperties", 0):
            found.append(f"{where}: fewer than {schema['minProperties']} keys")
        found += [f"{where}: {key!r} is required" for key in schema.get("required", []) if key not in instance]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                found += violations(value, properties[key], root, f"{where}.{key}")
            elif extra is False:
                found.append(f"{where}: {key!r} is not allowed")
            elif isinstance(extra, dict):
                found += violations(value, extra, root, f"{where}.{key}")
    return found


def validation_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Schema violations of `instance`, with the jsonschema package when it is installed."""
    try:
        import jsonschema
    except ImportError:
        return violations(instance, schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(instance)]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """What `triton-groups schema` prints, parsed."""
    result = subprocess.run(
        [sys.executable, "-m", "components.cli", "schema"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def example_as_json() -> Any:
    """The example spec as a JSON document (JSON object keys are strings: version numbers become "1")."""
    return json.loads(json.dumps(yaml.safe_load(EXAMPLE_SPEC.read_text())))


def test_schema_prints_the_group_spec_structure(schema: dict[str, Any]) -> None:
    assert schema["type"] == "object"
    assert schema["title"] == "GroupSpec"
    assert set(schema["required"]) == {"name", "models"}
    assert {"name", "description", "models", "server_args", "smoke"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    model = schema["$defs"]["ModelSpec"]
    assert model["additionalProperties"] is False
    assert {"name", "platform", "backend", "versions", "inputs", "outputs", "ensemble", "smoke"} <= set(
        model["properties"]
    )
    assert schema["$defs"]["SmokeExpectation"]["properties"]["match"]["enum"] == [
        "exact", "allclose", "argmax", "top_k", "shape"
    ]


def test_schema_output_is_stable_json(capsys: pytest.CaptureFixture[str], schema: dict[str, Any]) -> None:
    assert main(["schema"]) == 0

    printed = capsys.readouterr().out
    assert json.loads(printed) == schema
    assert printed == json.dumps(schema, indent=2, sort_keys=True) + "\n"


def test_the_example_spec_is_valid_against_the_schema(schema: dict[str, Any]) -> None:
    assert validation_errors(example_as_json(), schema) == []


def test_the_schema_refuses_a_misspelled_key_and_a_missing_name(schema: dict[str, Any]) -> None:
    spec = example_as_json()
    spec["models"][0]["input"] = spec["models"][0].pop("inputs")
    del spec["name"]

    found = validation_errors(spec, schema)

    assert len(found) == 2
    assert any("name" in message for message in found)
    assert any("input" in message for message in found)


def test_the_schema_checker_catches_wrong_types_and_bounds(schema: dict[str, Any]) -> None:
    spec = example_as_json()
    spec["smoke"]["repeats"] = 0
    spec["models"][1]["max_batch_size"] = "eight"

    assert len(validation_errors(spec, schema)) == 2


def descriptions(node: Any) -> list[str]:
    """Every description in a schema, nested ones included."""
    if isinstance(node, dict):
        own = [node["description"]] if isinstance(node.get("description"), str) else []
        return own + [text for value in node.values() for text in descriptions(value)]
    if isinstance(node, list):
        return [text for value in node for text in descriptions(value)]
    return []


def test_the_descriptions_speak_to_users_without_internal_references(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    found = descriptions(json.loads(capsys.readouterr().out))

    assert len(found) > 20
    assert [text for text in found if re.search(r"\bseed\b|\bissue\b|TODO|#\d", text)] == []
