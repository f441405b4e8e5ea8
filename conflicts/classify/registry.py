"""The classifier registry: every classifier, built in or a lab's own, through one door.

A classifier registers with `@classifier(name, version)` (a function from a dilemma and a
transcript to one verdict per principal) or, for one that asks judges, with `register()`. What it
can do is declared on its `Classifier`, never probed: whether it needs `--judge` models, whether
it runs the evidence rules first. ihsim's own classifiers are registered by their modules; a
package of a lab's own adds its classifiers by naming the module that registers them under the
`ihsim.classifiers` entry point group:

    [project.entry-points."ihsim.classifiers"]
    mylab = "mylab.ihsim_classifiers"

and `ihsim classify --classifier` then offers them (the CLI reads its choices from here).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflicts.errors import ModelError
from conflicts.plugins import load_entry_points

if TYPE_CHECKING:
    from conflicts.classify.classifiers import ClassifyFn

ENTRY_POINTS = "ihsim.classifiers"
BUILT_IN = ("conflicts.classify.classifiers",)


@dataclass(frozen=True)
class Classifier:
    """A classifier and what it can do: `fn` labels one transcript at a time, offline; without
    one, the classifier asks the `--judge` models (`needs_judges`), after the evidence rules
    where `with_rules`."""

    name: str
    version: str
    fn: ClassifyFn | None = None
    needs_judges: bool = False
    with_rules: bool = False
    aliases: tuple[str, ...] = ()
    summary: str = ""


@dataclass
class _Registry:
    by_name: dict[str, Classifier] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


_REGISTRY = _Registry()


def register(chosen: Classifier) -> Classifier:
    """Add a classifier; a later registration of the same name replaces the earlier one."""
    _REGISTRY.by_name[chosen.name] = chosen
    _REGISTRY.aliases.update(dict.fromkeys(chosen.aliases, chosen.name))
    return chosen


def classifier(
    name: str, version: str, aliases: tuple[str, ...] = (), summary: str = ""
) -> Callable[[ClassifyFn], ClassifyFn]:
    """Register a function as the classifier `name`, at `version` (stored with its verdicts)."""

    def decorate(fn: ClassifyFn) -> ClassifyFn:
        register(Classifier(name, version, fn, aliases=aliases, summary=summary))
        return fn

    return decorate


def _load() -> None:
    """Import the modules that register classifiers: ihsim's own, then the entry points'."""
    for module in BUILT_IN:
        importlib.import_module(module)
    load_entry_points(ENTRY_POINTS, "classifier", "classifier")


def get_classifier(name: str) -> Classifier:
    """The classifier registered as `name` (or under an alias of it)."""
    _load()
    chosen = _REGISTRY.by_name.get(_REGISTRY.aliases.get(name, name))
    if chosen is None:
        raise ModelError(
            f"unknown classifier {name!r} (available: {', '.join(classifier_names())})",
            loc=("classifier",),
        )
    return chosen


def classifier_names(aliases: bool = False) -> list[str]:
    """Every registered name, in registration order, with the aliases after their classifier."""
    _load()
    names = []
    for name in _REGISTRY.by_name:
        names.append(name)
        if aliases:
            names += [a for a, target in _REGISTRY.aliases.items() if target == name]
    return names
