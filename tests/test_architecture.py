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
    assert "components.core.spec.loader" in core_modules()


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


PACKAGE = CORE.parent
LAYERS = {
    "components._internal": 0,
    "components.core": 0,
    "components.providers": 1,
    "components.stacks": 2,
    "components.local": 3,
    "components.oci": 3,
    "components.cli": 4,
}
"""The package's layers, lowest first: a module imports only from its own layer or below (the core and its
internals from nothing else of the package)."""


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The package modules `path` imports, at module level or in a function, outside `if TYPE_CHECKING:` blocks."""
    import ast

    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("components")}
    return found


def package_graph() -> dict[str, set[str]]:
    """{module: the package modules it imports}; a module's own parent packages left out (Python imports them
    before any of their modules, so that edge closes no circle)."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {target for target in imports_of(path)
                   if target in modules and target != name and not name.startswith(target + ".")}
            for name, path in modules.items()}


def layer_of(module: str) -> int:
    return max((level for prefix, level in LAYERS.items() if module == prefix or module.startswith(prefix + ".")),
               default=0)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = sorted(f"{module} -> {target}" for module, targets in package_graph().items() for target in targets
                    if layer_of(target) > layer_of(module))
    assert upward == []


def test_the_package_has_no_import_circle() -> None:
    graph = package_graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_architecture_checks_can_see_a_circle_and_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("from components.cli import main\n"
                      "if TYPE_CHECKING:\n    from components.oci import program\n"
                      "def later():\n    from components.stacks import promotion\n")
    assert imports_of(module) >= {"components.cli", "components.stacks", "components.stacks.promotion"}
    assert "components.oci" not in imports_of(module)
    assert layer_of("components.core.spec") < layer_of("components.providers.base") < layer_of("components.cli")


def test_every_package_data_pattern_matches_a_file() -> None:
    import tomllib

    patterns = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    unmatched = [f"{package}: {pattern}" for package, listed in patterns.items() for pattern in listed
                 if not list((PACKAGE.parent / package.replace(".", "/")).glob(pattern))]
    assert unmatched == []
