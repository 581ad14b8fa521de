"""Concepts that both targets use are defined in one module, which every other module imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "components"


def definitions(name: str) -> list[str]:
    """The modules (paths below components/) that define `name` at their top level: a def, a class or an assignment."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
                found.append(path.relative_to(PACKAGE).as_posix())
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                found.append(path.relative_to(PACKAGE).as_posix())
    return found


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("Layout", "core/package/manifest.py"),
        ("group_name", "core/plan.py"),
        ("MANAGED_FLAGS", "core/tritonserver_flags.py"),
        ("flag_name", "core/tritonserver_flags.py"),
        ("DIGEST", "core/oci_target/settings.py"),
        ("image_source_problem", "core/oci_target/settings.py"),
        ("CONFIG_NAMESPACE", "core/stack_settings.py"),
        ("stack_file_label", "core/stack_settings.py"),
        ("config_field", "core/stack_settings.py"),
    ],
)
def test_the_concept_has_one_definition(name: str, owner: str) -> None:
    assert definitions(name) == [owner]


def test_both_smoke_transports_infer_by_sending_their_prepared_request_once() -> None:
    from components.core.smoke.oci_transport import OciPredictTransport
    from components.core.smoke.transport import SendsPrepared
    from components.core.smoke.triton_transport import TritonTransport

    assert OciPredictTransport.infer is TritonTransport.infer is SendsPrepared.infer
