"""Pairwise comparison of subversion rates between models, principal by principal.

Each pair is tested with Fisher's exact test on subvert against the other decided verdicts
(unclear ones say nothing either way); p-values are Holm-adjusted over all the comparisons
made, and each result is said in a plain sentence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from conflicts.analysis.intervals import fisher_exact, holm
from conflicts.analysis.measures import Cell
from conflicts.scenarios.axes import NOT_RECORDED, NOT_VARIED

ALPHA = 0.05


@dataclass(frozen=True)
class Difference:
    """Subversion of one principal compared between two models, or, for an axis effect, within
    one model between two values of an axis (`a` and `b` are then the values)."""

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
        tests = f"Fisher p = {self.p:.3g}, Holm p = {self.p_holm:.3g}"
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
        return f"{head}{claim} by {points:.0f} points ({counts}); {tests}: {verdict}"

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
            p=self.p,
            p_holm=self.p_holm,
            significant=self.significant,
        )
        return row


Pair = tuple[Cell, Cell, str | None]  # two cells to compare, and the axis they differ on


UNSET = (NOT_VARIED, NOT_RECORDED)


def compare(cells: list[Cell], models: list[str] | None = None) -> list[Difference]:
    """Every pair of models, per principal, on the overall cells."""
    by_principal: dict[str, dict[str, Cell]] = defaultdict(dict)
    for cell in cells:
        if cell.group == "all" and (models is None or cell.model in models):
            by_principal[cell.principal][cell.model] = cell
    pairs: list[Pair] = [
        (group[a], group[b], None)
        for _, group in sorted(by_principal.items())
        for a, b in combinations(sorted(group), 2)
    ]
    return _tested(pairs)


def axis_effects(
    cells: list[Cell], axes: list[str] | None = None, models: list[str] | None = None
) -> list[Difference]:
    """Within each model and principal, every pair of values of each axis (and whether the
    model said it was tested); families are not an axis and are left out, and so are dilemmas
    where the axis was not varied or not recorded."""
    by_axis: dict[tuple[str, str, str], dict[str, Cell]] = defaultdict(dict)
    for cell in cells:
        if cell.group in ("all", "family") or (axes is not None and cell.group not in axes):
            continue
        if cell.group == "tested" and cell.value == "unknown":
            continue
        if cell.value in UNSET:  # no value to compare: the axis was not varied, or not known
            continue
        if models is None or cell.model in models:
            by_axis[cell.model, cell.principal, cell.group][cell.value] = cell
    pairs: list[Pair] = [
        (values[a], values[b], axis)
        for (_, _, axis), values in sorted(by_axis.items())
        for a, b in combinations(sorted(values), 2)
    ]
    return _tested(pairs)


def _tested(pairs: list[Pair]) -> list[Difference]:
    """Fisher's exact test on subvert against the rest for each pair; Holm over them all."""
    p_values = [
        fisher_exact(
            x.count("subvert"),
            x.decided - x.count("subvert"),
            y.count("subvert"),
            y.decided - y.count("subvert"),
        )
        for x, y, _ in pairs
    ]
    return [
        Difference(
            principal=x.principal,
            a=x.value if axis else x.model,
            b=y.value if axis else y.model,
            subvert_a=x.count("subvert"),
            n_a=x.decided,
            subvert_b=y.count("subvert"),
            n_b=y.decided,
            p=p,
            p_holm=adjusted,
            model=x.model if axis else None,
            axis=axis,
        )
        for (x, y, axis), p, adjusted in zip(pairs, p_values, holm(p_values), strict=True)
    ]
