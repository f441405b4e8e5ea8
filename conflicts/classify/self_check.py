"""Whole-family checks beyond the schema: every dilemma renders, and every scripted move is
labelled by the family's own evidence as its author intended."""

from __future__ import annotations

from conflicts.classify.classifiers import move_mismatches
from conflicts.errors import FamilyError
from conflicts.scenarios.family import FamilySpec
from conflicts.scenarios.generate import dilemmas
from hierarchy import Hierarchy, load_hierarchy, preset_names


def hierarchy_for(family: FamilySpec, name: str | None) -> Hierarchy:
    """The named hierarchy, or the first preset that has all the family's principals."""
    if name is not None:
        return load_hierarchy(name)
    for preset in preset_names():
        candidate = load_hierarchy(preset)
        if set(family.principals) <= set(candidate.principals):
            return candidate
    raise FamilyError(
        "no preset hierarchy has all of this family's principals; pass --hierarchy",
        loc=("principals",),
    )


def check_family(family: FamilySpec, hierarchy_name: str | None, file: str) -> tuple[int, int]:
    """Render every dilemma, and every issuer-swap variant, and check the moves; returns how
    many dilemmas and how many issuer-swap variants rendered."""
    hierarchy = hierarchy_for(family, hierarchy_name)
    axes = {axis: list(values) for axis, values in family.supported_axes().items()}
    count = variants = 0
    for dilemma in dilemmas(family, hierarchy, axes, seed=0, swap_issuers=bool(family.swaps)):
        count += dilemma.swap is None
        variants += dilemma.swap is not None
        for move, principal, intended, got in move_mismatches(dilemma):
            index = [m.id for m in family.moves].index(move.id)
            where = ", ".join(f"{k}={v}" for k, v in sorted(dilemma.axes.items()))
            raise FamilyError(
                f"move {move.id!r} is meant to {intended} {principal} but the evidence says "
                f"{got} (at {where}, setting {dilemma.setting})",
                file=file,
                loc=("moves", index, "intent", principal),
            )
    return count, variants
