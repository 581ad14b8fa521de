"""Stack settings: one model per target, every problem named by stack file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.core.problems import UserError
from components.core.stack_settings import LocalSettings, check_settings, config_keys


def test_local_settings_read_camel_case_keys_with_their_defaults() -> None:
    settings = check_settings(LocalSettings, {"triton-groups:target": "local", "triton-groups:spec": "g.yaml",
                                              "triton-groups:httpPort": "8000", "triton-groups:rollback": "false"},
                              "local")
    assert (settings.spec, settings.http_port, settings.protocol, settings.rollback) == ("g.yaml", 8000, "http", False)
    assert settings.release is None and settings.production is False
    assert "triton-groups:promotesFrom" in config_keys(LocalSettings)


def test_every_wrong_key_is_one_problem_naming_the_stack_file_its_line_and_the_key(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.local.yaml"
    stack_file.write_text("config:\n  triton-groups:target: local\n  triton-groups:protocol: carrier-pigeon\n"
                          "  triton-groups:httpPort: 0\n  triton-groups:colour: blue\n")
    values = {"target": "local", "protocol": "carrier-pigeon", "httpPort": 0, "colour": "blue"}

    with pytest.raises(UserError) as refused:
        check_settings(LocalSettings, values, "local", stack_file=stack_file)

    assert [str(p) for p in refused.value.problems] == [
        "stacks/Pulumi.local.yaml: triton-groups:spec: is not set; set it",
        "stacks/Pulumi.local.yaml:3: triton-groups:protocol: Input should be 'http' or 'grpc'",
        "stacks/Pulumi.local.yaml:4: triton-groups:httpPort: Input should be greater than or equal to 1",
        "stacks/Pulumi.local.yaml:5: triton-groups:colour: unknown key; remove it or check its spelling",
    ]


@pytest.mark.parametrize("text", ["config: [unclosed\n", "config:\n  a: 1\n  a: 2\n"])
def test_a_stack_file_that_is_not_yaml_gives_the_problems_without_lines(tmp_path: Path, text: str) -> None:
    stack_file = tmp_path / "Pulumi.local.yaml"
    stack_file.write_text(text)

    with pytest.raises(UserError) as refused:
        check_settings(LocalSettings, {"target": "local"}, "local", stack_file=stack_file)

    assert [str(p) for p in refused.value.problems] == [
        "stacks/Pulumi.local.yaml: triton-groups:spec: is not set; set it"]
