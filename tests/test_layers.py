"""The house's layout, enforced: areas import one way, and `hierarchy/` knows nothing of them.

The order is the one `conflicts/__init__.py` states; an import of a later area from an earlier
one, anywhere in a module (inside functions and under TYPE_CHECKING too), fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the floor (modules at the package root) first, the command line last
LAYERS = [
    "errors",
    "atomic",
    "inert",
    "plugins",
    "scenarios",
    "store",
    "providers",
    "run",
    "analysis",
    "classify",
    "formats",
    "cli",
]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported(name: str, source: str) -> set[str]:
    """Every module a module imports, by absolute name, wherever in its source the import is."""
    package = name.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def area(module: str) -> str | None:
    """The area of a `conflicts` module name, or None for anything outside it."""
    parts = module.split(".")
    if parts[0] != "conflicts" or len(parts) == 1:
        return None
    return "cli" if parts[1] == "__main__" else parts[1]


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_every_module_of_conflicts_is_in_a_known_area() -> None:
    for path in modules("conflicts"):
        name = module_name(path)
        if path.name == "__init__.py" and path.parent.name == "conflicts":
            continue
        assert area(name) in LAYERS, f"{path}: not in any area of conflicts/__init__.py"


def upward(name: str, source: str) -> list[str]:
    """The imports of a module that reach an area above its own."""
    own = area(name)
    if own is None:
        return []
    return sorted(
        f"{own} imports {other}"
        for other in imported(name, source)
        if area(other) in LAYERS and LAYERS.index(str(area(other))) > LAYERS.index(own)
    )


@pytest.mark.parametrize("path", modules("conflicts"), ids=lambda p: str(p.relative_to(ROOT)))
def test_areas_import_only_the_areas_below_them(path: Path) -> None:
    assert not upward(module_name(path), path.read_text()), path


@pytest.mark.parametrize("path", modules("hierarchy"), ids=lambda p: str(p.relative_to(ROOT)))
def test_hierarchy_imports_nothing_of_conflicts(path: Path) -> None:
    names = imported(module_name(path), path.read_text())
    assert not {n for n in names if n.split(".")[0] == "conflicts"}, path


def test_each_area_says_what_lives_there_and_imports_nothing_on_import() -> None:
    for layer in LAYERS:
        init = ROOT / "conflicts" / layer / "__init__.py"
        if not init.exists():
            assert (ROOT / "conflicts" / f"{layer}.py").exists(), layer
            continue
        tree = ast.parse(init.read_text())
        doc = ast.get_docstring(tree)
        assert doc and "May import" in doc, f"{init}: no docstring saying what it may import"
        for module in modules(f"conflicts/{layer}"):
            if module.name != "__init__.py":
                assert f"`{module.stem}`" in doc, f"{init}: does not mention {module.stem}"
        eager = [
            n
            for n in tree.body
            if isinstance(n, ast.Import | ast.ImportFrom)
            and getattr(n, "module", "") not in ("__future__", "typing")
        ]
        assert not eager, f"{init} imports on import; `ihsim --help` must stay light"


def test_the_layer_check_sees_upward_imports_in_any_form() -> None:
    """The check above can fail: late, relative and typing-only imports upward are all seen."""
    late = "def f() -> None:\n    from conflicts.cli import main\n"
    assert "store imports conflicts.cli" in upward("conflicts.store.probe", late)
    relative = "from ..classify import rules\n"
    assert "scenarios imports conflicts.classify" in upward("conflicts.scenarios.probe", relative)
    typing_only = "if TYPE_CHECKING:\n    import conflicts.formats.html\n"
    assert "run imports conflicts.formats.html" in upward("conflicts.run.probe", typing_only)
    assert not upward("conflicts.formats.probe", "from conflicts.store import database\n")
