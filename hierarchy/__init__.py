"""The principal graph: who outranks whom, through which channel, and whose directive should win.

Pure domain: no providers, no store, no CLI. `conflicts` depends on this package, never the reverse.
"""

from hierarchy.errors import HierarchyError, InputError
from hierarchy.graph import Hierarchy, Resolution
from hierarchy.presets import load_hierarchy, load_hierarchy_file, preset_names
from hierarchy.spec import (
    AuthorityEdgeSpec,
    ChannelSpec,
    DirectiveSpec,
    HierarchySpec,
    PrincipalSpec,
)

__all__ = [
    "AuthorityEdgeSpec",
    "ChannelSpec",
    "DirectiveSpec",
    "Hierarchy",
    "HierarchyError",
    "HierarchySpec",
    "InputError",
    "PrincipalSpec",
    "Resolution",
    "load_hierarchy",
    "load_hierarchy_file",
    "preset_names",
]
