"""The garbage collector around what a long command loads once and keeps until exit.

Importing the openai SDK creates a few hundred thousand objects (its types are pydantic classes)
that all live until the process ends. Left to the collector, they cost three times, measured on
`ihsim run` (see the runner benchmark): collections during the import that free nothing
(60-80 ms), every full collection during the run walking them again, and the interpreter
collecting them one by one at shutdown (0.2 s). Imported with collection paused, then frozen
(`gc.freeze`), the collector sees only what the run itself allocates.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Collection off for a stretch that creates what lives until exit (imports, a run's plan),
    then what survives frozen. Re-enabled without the freeze, the first collection would walk
    all of it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def import_quietly(modules: Iterable[str]) -> None:
    """Import `modules` with collection paused, and freeze what they create."""
    with paused():
        for module in modules:
            importlib.import_module(module)
