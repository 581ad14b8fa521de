"""The folder tree is the architecture: the core never imports Pulumi, so it can be used and tested alone."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import components.core

CORE = Path(components.core.__file__).parent


def core_modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages([str(CORE)], prefix="components.core.") if not info.ispkg
    )


def test_the_core_has_modules_to_check() -> None:
    assert "components.core.spec" in core_modules()


def test_no_core_module_imports_pulumi() -> None:
    script = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'pulumi' or m.startswith(('pulumi.', 'pulumi_')))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"core modules pulled in Pulumi: {result.stdout.strip()}"


def test_no_core_source_mentions_a_pulumi_import() -> None:
    offenders = [
        str(path.relative_to(CORE))
        for path in CORE.rglob("*.py")
        if any(line.lstrip().startswith(("import pulumi", "from pulumi")) for line in path.read_text().splitlines())
    ]
    assert offenders == []
