"""The principal graph: who outranks whom, through which channel, and whose directive should win.

Pure domain: no providers, no store, no CLI. `conflicts` depends on this package, never the reverse.
Names are re-exported lazily, so importing `hierarchy.errors` does not load networkx.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "HierarchyError": "hierarchy.errors",
    "InputError": "hierarchy.errors",
    "Hierarchy": "hierarchy.graph",
    "Resolution": "hierarchy.graph",
    "load_hierarchy": "hierarchy.presets",
    "load_hierarchy_file": "hierarchy.presets",
    "preset_names": "hierarchy.presets",
    "AuthorityEdgeSpec": "hierarchy.spec",
    "ChannelSpec": "hierarchy.spec",
    "DirectiveSpec": "hierarchy.spec",
    "HierarchySpec": "hierarchy.spec",
    "PrincipalSpec": "hierarchy.spec",
}

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
assert set(__all__) == set(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hierarchy' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
