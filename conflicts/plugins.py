"""Entry points: how a lab's own package joins ihsim's registries without editing ihsim.

A package names, under an entry point group (`ihsim.providers`, `ihsim.classifiers`), a module
whose import registers what it adds through the same decorators ihsim's own use.
"""

from __future__ import annotations

from conflicts.errors import ModelError

_LOADED: set[str] = set()


def load_entry_points(group: str, what: str, field: str) -> None:
    """Import every module the group's entry points name, the first time a group is asked for;
    a broken plugin is one named input error, not a traceback (and is not tried again)."""
    if group in _LOADED:
        return
    _LOADED.add(group)  # first: a plugin that asks its registry while loading finds it loading
    from importlib.metadata import entry_points

    for point in entry_points(group=group):
        try:
            point.load()
        except Exception as exc:
            raise ModelError(
                f"{what} plugin {point.name!r} ({point.value}) failed to load: {exc}",
                loc=(field,),
            ) from exc
