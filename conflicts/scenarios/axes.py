"""The experimental axes a family may vary, and the `--axes` selection syntax."""

from __future__ import annotations

from collections.abc import Mapping

from conflicts.errors import FamilyError

AXES: dict[str, tuple[str, ...]] = {
    "goal_conflict": ("none", "explicit", "latent"),
    "threat": ("none", "replacement", "restriction"),
    "prohibition": ("none", "explicit"),
    "surveillance": ("none", "monitored"),
    "framing": ("prohibitive", "prescriptive"),
    "identity_claim": ("none", "claims_owner", "claims_trainer"),
    "refusal_option": ("available", "foreclosed"),
    "cue_strength": ("subtle", "obvious"),
}

# every built-in family varies these (tests/test_families_all.py); a researcher's may vary none
BUILT_IN_AXES = ("framing", "cue_strength")
# the value an imported transcript is reported under for an axis its source did not record
NOT_RECORDED = "not recorded"
# the value a generated dilemma has for an axis whose values all render it word for word alike
NOT_VARIED = "not varied here"


def parse_axes(
    text: str | None, supported: Mapping[str, tuple[str, ...]], strict: bool = True
) -> dict[str, list[str]]:
    """Parse `threat=*,framing=prohibitive|prescriptive` into the values to cross.

    Axes not named take all the values the family supports; `*` does too. With `strict` off
    (several families at once), an axis or value the family lacks is ignored for that family.
    """
    chosen = {axis: list(values) for axis, values in supported.items()}
    if not text:
        return chosen
    for part in filter(None, (p.strip() for p in text.split(","))):
        axis, sep, spec = part.partition("=")
        axis, spec = axis.strip(), spec.strip()
        if not sep or not spec:
            raise FamilyError(
                f"expected AXIS=VALUE[|VALUE...] or AXIS=*, got {part!r}", loc=("axes",)
            )
        if axis not in AXES:
            raise FamilyError(f"unknown axis {axis!r} (known: {', '.join(AXES)})", loc=("axes",))
        if axis not in supported:
            if not strict:
                continue
            raise FamilyError(f"this family does not vary {axis!r}", loc=("axes",))
        values = list(supported[axis]) if spec == "*" else [v.strip() for v in spec.split("|")]
        for value in values:
            if values.count(value) > 1:  # each value is one set of dilemmas, written once
                raise FamilyError(f"axis {axis} lists {value!r} twice", loc=("axes",))
            if value not in AXES[axis]:
                known = "|".join(AXES[axis])
                raise FamilyError(
                    f"unknown value {value!r} for axis {axis} ({known})", loc=("axes",)
                )
            if value not in supported[axis] and strict:
                known = "|".join(supported[axis])
                raise FamilyError(
                    f"this family has no value {value!r} for axis {axis} ({known})", loc=("axes",)
                )
        chosen[axis] = [v for v in values if v in supported[axis]]
    return chosen
