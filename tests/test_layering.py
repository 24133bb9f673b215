"""Data flows one way: catalog knows neither mirror nor serve; those two never know each
other; none of the three knows the composition root (`datamirror`) above them. "Know"
covers imports and module names in strings (what importlib would load)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "catalog": {"mirror", "serve", "datamirror"},
    "mirror": {"serve", "datamirror"},
    "serve": {"mirror", "datamirror"},
}
MODULE_PATH = re.compile(r"^(?P<top>[a-z_]+)(\.[a-z_]+)+(:[A-Za-z_]\w*)?$")
MAX_LINES = 400


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def named_packages(path: Path) -> set[str]:
    """Top-level packages that string constants name as module paths (`serve.cli:serve`)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = MODULE_PATH.match(node.value.strip())
            if match:
                found.add(match.group("top"))
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_imports_the_layers_it_must_not_know(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in modules(package)
    }
    assert {p: names for p, names in offenders.items() if names} == {}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_names_the_layers_it_must_not_know_in_a_string(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(named_packages(path) & FORBIDDEN[package])
        for path in modules(package)
    }
    assert {p: names for p, names in offenders.items() if names} == {}


def test_the_string_check_sees_a_module_named_for_importlib(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        'import importlib\nimportlib.import_module("serve.cli")\nX = "mirror.cli:sync"\n'
    )
    assert named_packages(probe) == {"serve", "mirror"}


@pytest.mark.parametrize("package", [*sorted(FORBIDDEN), "datamirror"])
def test_no_module_is_longer_than_four_hundred_lines(package: str) -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in modules(package)
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
