"""Built-in hierarchies, and loading a hierarchy by preset name or file path."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from hierarchy.errors import HierarchyError
from hierarchy.graph import Hierarchy
from hierarchy.source import load_model
from hierarchy.spec import HierarchySpec

PRESET_DIR = Path(__file__).parent / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_hierarchy_file(path: Path) -> Hierarchy:
    """Load and validate a hierarchy YAML file; errors name the file, line and field."""
    return load_model(path, HierarchySpec, HierarchyError, Hierarchy)


@cache
def _preset(name: str) -> Hierarchy:
    return load_hierarchy_file(PRESET_DIR / f"{name}.yaml")


def load_hierarchy(name_or_path: str) -> Hierarchy:
    """A preset by name, or a YAML file by path (anything with a slash or a .yaml/.yml suffix)."""
    if name_or_path in preset_names():
        return _preset(name_or_path)
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or "/" in name_or_path or path.exists():
        return load_hierarchy_file(path)
    raise HierarchyError(
        f"unknown hierarchy {name_or_path!r}: not a preset ({', '.join(preset_names())}) "
        "and not a .yaml file",
        loc=("hierarchy",),
    )
