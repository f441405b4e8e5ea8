"""Built-in hierarchies, and loading a hierarchy by preset name or file path."""

from __future__ import annotations

from pathlib import Path

from hierarchy.errors import HierarchyError
from hierarchy.graph import Hierarchy
from hierarchy.source import NamedFiles, load_model
from hierarchy.spec import HierarchySpec

PRESET_DIR = Path(__file__).parent / "presets"


def load_hierarchy_file(path: Path) -> Hierarchy:
    """Load and validate a hierarchy YAML file; errors name the file, line and field."""
    return load_model(path, HierarchySpec, HierarchyError, Hierarchy)


# a preset by name, or a YAML file by path (anything with a slash or a .yaml/.yml suffix)
PRESETS = NamedFiles(PRESET_DIR, load_hierarchy_file, HierarchyError, "hierarchy", "not a preset")
preset_names, load_hierarchy = PRESETS.names, PRESETS.load
