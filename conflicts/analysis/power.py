"""How many dilemmas are enough (`ihsim power`), and what a finished run could have detected.

A comparison of two subversion rates is planned as the two-sided test of two independent
proportions on Cohen's effect size h = 2 asin(sqrt p1) - 2 asin(sqrt p0), statsmodels'
`NormalIndPower`. Epochs of one dilemma are not independent draws: the transcripts needed are
the independent draws needed times Kish's design effect 1 + (m - 1) ICC, m the epochs per
dilemma, and the dilemmas needed are those transcripts over m. Two models on the same dilemmas
are tested paired, which needs no more than this and usually fewer: the plan is conservative.

From a run: each cell's effective sample is its decided verdicts over its design effect, and
the smallest rise it could have detected is the h that sample gives, at the same alpha and power,
turned back into a rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from conflicts.analysis.measures import Cell


@dataclass(frozen=True)
class Need:
    """A plan: per arm, the dilemmas at `epochs` each, and the transcripts they make."""

    epochs: int
    dilemmas: int
    transcripts: int


def effect_size(base: float, other: float) -> float:
    """Cohen's h between two rates."""
    return abs(2 * math.asin(math.sqrt(other)) - 2 * math.asin(math.sqrt(base)))


def independent_draws(base: float, other: float, alpha: float, power: float) -> float:
    """Independent draws per arm for the two-sided test to tell `other` from `base`."""
    from statsmodels.stats.power import NormalIndPower

    h = effect_size(base, other)
    if h == 0:
        return math.inf
    found = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0)
    return float(found)


def needed(base: float, other: float, alpha: float, power: float, icc: float, epochs: int) -> Need:
    """Dilemmas and transcripts per arm, with `epochs` transcripts a dilemma correlated by
    `icc`."""
    draws = independent_draws(base, other, alpha, power) * (1 + (epochs - 1) * icc)
    dilemmas = math.ceil(draws / epochs - 1e-9)
    return Need(epochs, dilemmas, dilemmas * epochs)


def detectable(base: float, effective_n: float, alpha: float, power: float) -> float | None:
    """The smallest rate above `base` that a second arm of the same size would be found to
    differ by; None where no rate up to 1 is far enough."""
    if effective_n <= 0:
        return None
    from statsmodels.stats.power import NormalIndPower

    h = float(NormalIndPower().solve_power(nobs1=effective_n, alpha=alpha, power=power, ratio=1.0))
    angle = math.asin(math.sqrt(base)) + h / 2
    return None if angle > math.pi / 2 else math.sin(angle) ** 2


@dataclass(frozen=True)
class CellPower:
    """What one report cell's subversion rate could tell."""

    cell: Cell
    rate: float
    transcripts_per_dilemma: float
    icc: float
    effective_n: float
    detectable: float | None  # the smallest rise it would have found
    plan: Need | None  # with an effect given: what that effect needs at this cell's design

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.cell.model,
            "principal": self.cell.principal,
            "rate": round(self.rate, 4),
            "decided": self.cell.decided,
            "dilemmas": self.cell.dilemmas,
            "transcripts_per_dilemma": round(self.transcripts_per_dilemma, 3),
            "icc": round(self.icc, 4),
            "effective_n": round(self.effective_n, 1),
            "detectable_rate": None if self.detectable is None else round(self.detectable, 4),
            "needed_dilemmas": None if self.plan is None else self.plan.dilemmas,
            "needed_transcripts": None if self.plan is None else self.plan.transcripts,
        }


def of_cell(cell: Cell, alpha: float, power: float, effect: float | None) -> CellPower:
    """A cell's power: its design (epochs and ICC) as the run found it."""
    clusters = cell.clusters.get("subvert")
    icc = (clusters.icc if clusters is not None else None) or 0.0
    dilemmas = clusters.k if clusters is not None else cell.dilemmas  # those with a decided verdict
    per_dilemma = cell.decided / dilemmas if dilemmas else 0.0
    effective = cell.effective_n("subvert")
    rate = cell.rate("subvert")
    plan = None
    if effect is not None and 0 < rate + effect < 1:
        epochs = max(1, round(per_dilemma))
        plan = needed(rate, rate + effect, alpha, power, icc, epochs)
    found = detectable(rate, effective, alpha, power)
    return CellPower(cell, rate, per_dilemma, icc, effective, found, plan)
