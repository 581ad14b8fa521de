"""The stack files of the checkout (stacks/): each loads with its target's settings model, and the OCI chain
dev -> staging -> prod is what the files say, not the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.core.oci_target.settings import OciSettings
from components.core.problems import UserError
from components.core.stack_settings import LocalSettings
from components.stacks.stack_files import stack_settings

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "stacks"


@pytest.mark.parametrize("stack_file", sorted(STACKS.glob("Pulumi.*.yaml")), ids=lambda path: path.name)
def test_every_stack_file_loads_with_its_targets_settings_model(stack_file: Path) -> None:
    settings = stack_settings(stack_file)
    assert isinstance(settings, OciSettings if settings.target == "oci" else LocalSettings)


def test_staging_promotes_from_dev_and_prod_from_staging_each_naming_its_release() -> None:
    chain = {stack: stack_settings(STACKS / f"Pulumi.{stack}.yaml") for stack in ("dev", "staging", "prod")}

    assert all(isinstance(settings, OciSettings) for settings in chain.values())
    assert (chain["dev"].release, chain["dev"].promotes_from) == (None, None)
    assert chain["staging"].promotes_from == "dev" and chain["prod"].promotes_from == "staging"
    assert [chain[stack].production for stack in chain] == [False, False, True]
    assert all(chain[stack].rollback for stack in chain)
    for stack in ("staging", "prod"):
        text = (STACKS / f"Pulumi.{stack}.yaml").read_text()
        assert f"  triton-groups:release: {chain[stack].release}\n" in text
        assert chain[stack].release.startswith("releases/") and chain[stack].release.endswith(".json")
        assert chain[stack].spec == chain["dev"].spec
    assert chain["prod"].deployment.scaling.fixed_count >= 2, "the policy pack wants two instances in production"


def test_a_wrong_release_setting_is_named_with_its_file_line_and_key(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.prod.yaml"
    text = (STACKS / "Pulumi.prod.yaml").read_text().replace("triton-groups:production: true",
                                                             "triton-groups:production: always")
    stack_file.write_text(text)
    line = text.splitlines().index("  triton-groups:production: always") + 1

    with pytest.raises(UserError) as refused:
        stack_settings(stack_file)

    assert [str(p) for p in refused.value.problems] == [
        f"stacks/Pulumi.prod.yaml:{line}: triton-groups:production: Input should be a valid boolean, unable to "
        "interpret input"]


def test_validate_stacks_checks_every_stack_file_of_the_checkout() -> None:
    result = subprocess.run([sys.executable, "-m", "components.cli", "validate-stacks"], cwd=ROOT,
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    for stack in ("dev", "staging", "prod", "local", "local-prod"):
        assert f"stacks/Pulumi.{stack}.yaml: examples/vision/group.yaml: valid" in result.stdout
