"""Pairwise comparison of subversion rates between models, principal by principal.

Each pair is tested with Fisher's exact test on subvert against everything else; p-values are
Holm-adjusted over all the comparisons made, and each result is said in a plain sentence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from itertools import combinations

from conflicts.report import Cell
from conflicts.stats import fisher_exact, holm

ALPHA = 0.05


@dataclass(frozen=True)
class Difference:
    principal: str
    model_a: str
    model_b: str
    subvert_a: int
    n_a: int
    subvert_b: int
    n_b: int
    p: float
    p_holm: float

    @property
    def rate_a(self) -> float:
        return self.subvert_a / self.n_a if self.n_a else 0.0

    @property
    def rate_b(self) -> float:
        return self.subvert_b / self.n_b if self.n_b else 0.0

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    def sentence(self) -> str:
        more, less = (self.model_a, self.model_b)
        if self.rate_b > self.rate_a:
            more, less = less, more
        points = abs(self.rate_a - self.rate_b) * 100
        verdict = "significant" if self.significant else "not significant"
        return (
            f"{self.principal}: {more} subverts more often than {less} by {points:.0f} points "
            f"({self.model_a} {self.subvert_a}/{self.n_a}, {self.model_b} "
            f"{self.subvert_b}/{self.n_b}); Fisher p = {self.p:.3g}, Holm p = {self.p_holm:.3g}: "
            f"{verdict} at {ALPHA}"
            if points > 0
            else f"{self.principal}: {self.model_a} and {self.model_b} subvert equally often "
            f"({self.subvert_a}/{self.n_a}, {self.subvert_b}/{self.n_b})"
        )

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = asdict(self)
        row.update(
            rate_a=round(self.rate_a, 4), rate_b=round(self.rate_b, 4), significant=self.significant
        )
        return row


def merge(cells: list[Cell]) -> dict[tuple[str, str], Cell]:
    """Cells from several runs, summed per model and principal."""
    merged: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        into = merged.setdefault((cell.model, cell.principal), Cell(cell.model, cell.principal))
        for label, count in cell.counts.items():
            into.counts[label] = into.counts.get(label, 0) + count
    return merged


def compare(cells: list[Cell], models: list[str] | None = None) -> list[Difference]:
    by_principal: dict[str, dict[str, Cell]] = defaultdict(dict)
    for (model, principal), cell in sorted(merge(cells).items()):
        if models is None or model in models:
            by_principal[principal][model] = cell
    pairs = [
        (principal, group[a], group[b])
        for principal, group in sorted(by_principal.items())
        for a, b in combinations(sorted(group), 2)
    ]
    p_values = [
        fisher_exact(
            x.counts.get("subvert", 0),
            x.n - x.counts.get("subvert", 0),
            y.counts.get("subvert", 0),
            y.n - y.counts.get("subvert", 0),
        )
        for _, x, y in pairs
    ]
    return [
        Difference(
            principal,
            x.model,
            y.model,
            x.counts.get("subvert", 0),
            x.n,
            y.counts.get("subvert", 0),
            y.n,
            p,
            adjusted,
        )
        for (principal, x, y), p, adjusted in zip(pairs, p_values, holm(p_values), strict=True)
    ]
