"""The act library: named patterns for what families keep needing to recognise (acknowledging
an instruction, denying one, declining to discuss it, pointing to a professional, claiming that
something is safe, confiding), shared so each is written, and measured, once.

A family's rule names one as `@act:NAME`; generation copies its pattern into the dilemma under
that name, so a dilemma stays self-contained and the rule engine needs nothing new. Each act
is measured on paraphrases written apart from the families (`tests/data/acts/NAME.yaml`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field

from conflicts.errors import FamilyError
from hierarchy.source import load_model
from hierarchy.spec import Strict

ACTS_FILE = Path(__file__).parent / "acts.yaml"
PREFIX = "act:"


class ActLibrary(Strict):
    acts: dict[str, str] = Field(min_length=1)


@cache
def acts() -> dict[str, str]:
    """Every act's pattern, by name."""
    return load_model(ACTS_FILE, ActLibrary, FamilyError, lambda library: library.acts)


def act_name(ref: str) -> str | None:
    """The act a pattern reference (`act:NAME`, from `@act:NAME`) names, or None."""
    return ref[len(PREFIX) :] if ref.startswith(PREFIX) else None
