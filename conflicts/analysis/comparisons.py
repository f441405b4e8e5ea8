"""Pairwise comparison of subversion rates between models, principal by principal, and
between the values of an axis within a model.

Subvert is tested against the other decided verdicts (unclear ones say nothing either way).
Arms that share dilemmas (two models on one dilemma set, two runs, the values of an axis on
their minimal pairs) are tested as paired data over what they share (`pairings`); Fisher's
exact test, unpaired, is left for arms that share none, and for test awareness, which is the
model's own saying and pairs nothing. p-values are Holm-adjusted over all the comparisons made,
and each result is said in a plain sentence naming its test.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from itertools import combinations

from conflicts.analysis.intervals import fisher_exact, holm
from conflicts.analysis.measures import Aggregate, Cell
from conflicts.analysis.pairings import Pairing, PairKey
from conflicts.scenarios.axes import NOT_RECORDED, NOT_VARIED

ALPHA = 0.05
FISHER = "Fisher exact"
# how every format introduces its comparisons
TESTS_SAID = (
    "Subvert against the other decided verdicts. Arms that share dilemmas are tested as paired "
    "data: McNemar's exact test where each dilemma has one verdict per arm, the "
    "Cochran-Mantel-Haenszel test over dilemmas where it has more (epochs), axis values on "
    "their minimal pairs (dilemmas alike in every other axis); Fisher's exact test where they "
    "share none. Each line names its test; Holm's correction over all comparisons."
)


@dataclass(frozen=True)
class Difference:
    """Subversion of one principal compared between two models, or, for an axis effect, within
    one model between two values of an axis (`a` and `b` are then the values). The counts are
    those the test saw: for a paired test, over the `strata` (dilemmas, or minimal pairs) where
    both arms have a decided verdict."""

    principal: str
    a: str
    b: str
    subvert_a: int
    n_a: int
    subvert_b: int
    n_b: int
    p: float
    p_holm: float
    model: str | None = None
    axis: str | None = None
    test: str = FISHER
    strata: int | None = None  # None: unpaired

    @property
    def rate_a(self) -> float:
        return self.subvert_a / self.n_a if self.n_a else 0.0

    @property
    def rate_b(self) -> float:
        return self.subvert_b / self.n_b if self.n_b else 0.0

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    def _names(self) -> tuple[str, str]:
        if self.axis is None:
            return self.a, self.b
        return f"{self.axis}={self.a}", f"{self.axis}={self.b}"

    def sentence(self) -> str:
        a, b = self._names()
        more, less = (a, b) if self.rate_a >= self.rate_b else (b, a)
        points = abs(self.rate_a - self.rate_b) * 100
        counts = f"{a} {self.subvert_a}/{self.n_a}, {b} {self.subvert_b}/{self.n_b}"
        tests = f"{self._test_said()} p = {self.p:.3g}, Holm p = {self.p_holm:.3g}"
        verdict = f"{'significant' if self.significant else 'not significant'} at {ALPHA}"
        if self.axis is None:
            head = f"{self.principal}: "
            claim = f"{more} subverts more often than {less}"
            same = f"{a} and {b} subvert equally often"
        else:
            head = f"{self.model}, {self.principal}: "
            claim = f"subverts more often with {more} than with {less}"
            same = f"subverts equally often with {a} and {b}"
        if points == 0:
            return f"{head}{same} ({counts})"
        unit = "point" if round(points) == 1 else "points"
        return f"{head}{claim} by {points:.0f} {unit} ({counts}); {tests}: {verdict}"

    def _test_said(self) -> str:
        if self.strata is None:
            return f"{self.test} (unpaired)"
        over = "dilemmas" if self.axis in (None, "run") else "minimal pairs"
        return f"{self.test} over {self.strata} {over}"

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = {"principal": self.principal}
        if self.axis is None:
            row.update(model_a=self.a, model_b=self.b)
        else:
            row.update(model=self.model, axis=self.axis, value_a=self.a, value_b=self.b)
        row.update(
            subvert_a=self.subvert_a,
            n_a=self.n_a,
            subvert_b=self.subvert_b,
            n_b=self.n_b,
            rate_a=round(self.rate_a, 4),
            rate_b=round(self.rate_b, 4),
            test=self.test,
            paired=self.strata is not None,
            strata=self.strata,
            p=self.p,
            p_holm=self.p_holm,
            significant=self.significant,
        )
        return row


Pair = tuple[Cell, Cell, str | None, Pairing | None]  # the cells, their axis, their pairing


UNSET = (NOT_VARIED, NOT_RECORDED)


def compare(found: Aggregate, models: list[str] | None = None) -> list[Difference]:
    """Every pair of models, per principal, on the overall cells."""
    by_principal: dict[str, dict[str, Cell]] = defaultdict(dict)
    for cell in found.cells:
        if cell.group == "all" and (models is None or cell.model in models):
            by_principal[cell.principal][cell.model] = cell
    pairs: list[Pair] = [
        (group[a], group[b], None, found.pairings.get(("model", "", principal, "", a, b)))
        for principal, group in sorted(by_principal.items())
        for a, b in combinations(sorted(group), 2)
    ]
    return _tested(pairs)


def axis_effects(
    found: Aggregate, axes: list[str] | None = None, models: list[str] | None = None
) -> list[Difference]:
    """Within each model and principal, every pair of values of each axis (and whether the
    model said it was tested); families are not an axis and are left out, and so are dilemmas
    where the axis was not varied or not recorded."""
    by_axis: dict[tuple[str, str, str], dict[str, Cell]] = defaultdict(dict)
    for cell in found.cells:
        if cell.group in ("all", "family") or (axes is not None and cell.group not in axes):
            continue
        if cell.group == "tested" and cell.value == "unknown":
            continue
        if cell.value in UNSET:  # no value to compare: the axis was not varied, or not known
            continue
        if models is None or cell.model in models:
            by_axis[cell.model, cell.principal, cell.group][cell.value] = cell
    pairs: list[Pair] = [
        (values[a], values[b], axis, found.pairings.get(_key(model, principal, axis, a, b)))
        for (model, principal, axis), values in sorted(by_axis.items())
        for a, b in combinations(sorted(values), 2)
    ]
    return _tested(pairs)


def _key(model: str, principal: str, axis: str, a: str, b: str) -> PairKey:
    if axis == "run":
        return ("run", model, principal, "", a, b)
    return ("axis", model, principal, axis, a, b)


def _tested(pairs: list[Pair]) -> list[Difference]:
    """Each pair's test, paired where its arms share strata; Holm over them all."""
    found = [_difference(x, y, axis, pairing) for x, y, axis, pairing in pairs]
    adjusted = holm([d.p for d in found])
    return [replace(d, p_holm=p) for d, p in zip(found, adjusted, strict=True)]


def _difference(x: Cell, y: Cell, axis: str | None, pairing: Pairing | None) -> Difference:
    """The paired test on what the arms share, or Fisher's on the cells where they share
    nothing; p_holm is filled in over all the pairs."""
    if pairing is not None:
        counts = (pairing.subvert_a, pairing.n_a, pairing.subvert_b, pairing.n_b)
        p, test, strata = pairing.p_value(), pairing.test, pairing.strata
    else:
        counts = (x.count("subvert"), x.decided, y.count("subvert"), y.decided)
        sa, na, sb, nb = counts
        p, test, strata = fisher_exact(sa, na - sa, sb, nb - sb), FISHER, None
    return Difference(
        x.principal,
        x.value if axis else x.model,
        y.value if axis else y.model,
        *counts,
        p=p,
        p_holm=1.0,
        model=x.model if axis else None,
        axis=axis,
        test=test,
        strata=strata,
    )
