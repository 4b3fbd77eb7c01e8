"""The package layers of docs/architecture.md, checked on the source: which package may import which."""

import ast
from pathlib import Path

import porcini

PACKAGE = Path(porcini.__file__).parent


def _porcini_imports(path: Path) -> set[str]:
    """The porcini modules a source file imports (absolute imports; porcini uses no relative ones)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "porcini" or name.startswith("porcini.")}


# docs/architecture.md's layers table: the porcini packages each package may import (besides itself);
# errors and seeding are leaves that any package may use
ALLOWED = {
    "core": set(),
    "envs": {"ray_runtime"},
    "data": {"core"},
    "functional": set(),
    "networks": set(),
    "approximators": set(),
}
LEAVES = {"errors", "seeding"}


def _package_of(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_envs_import_nothing_from_core():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in _porcini_imports(path) if m.startswith("porcini.core"))
        for path in (PACKAGE / "envs").rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_lower_layers_import_only_what_the_architecture_allows():
    offenders = {}
    for package, allowed in ALLOWED.items():
        for path in (PACKAGE / package).rglob("*.py"):
            used = {_package_of(m) for m in _porcini_imports(path)} - allowed - LEAVES - {package}
            if used:
                offenders[str(path.relative_to(PACKAGE))] = sorted(used)
    assert offenders == {}


def test_errors_module_stands_alone():
    assert _porcini_imports(PACKAGE / "errors.py") == set()
