"""Rates corrected for the classifier's measured error (`report --correct-with GOLD`).

A classifier that misses some subversions and calls some honest answers subversion reports a
rate that is not the model's. Given how it did against people's labels, the Rogan–Gladen
estimator recovers the true rate of a label from the observed one q:

    p = (q + specificity - 1) / (sensitivity + specificity - 1)

with sensitivity and specificity of that label against the rest, measured on the gold labels
that both the people and the classifier decided (the rates are over decided verdicts too),
pooled over principals, since a gold set is seldom large enough to split. The interval carries
both uncertainties: a parametric bootstrap that draws the observed rate from its clustered
effective sample, and sensitivity and specificity from the gold counts (Jeffreys' Beta
posteriors), corrects each draw and takes the 2.5 and 97.5 percentiles. The draws are seeded,
so a report is the same every time it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conflicts.analysis.measures import DECIDED, Cell

DRAWS = 20_000
SEED = 15


@dataclass(frozen=True)
class Confusion:
    """One label against the rest, on the gold labels both sides decided."""

    label: str
    true_positive: int  # gold said it, the classifier said it
    false_negative: int  # gold said it, the classifier said another decided label
    true_negative: int
    false_positive: int

    @property
    def sensitivity(self) -> float | None:
        positives = self.true_positive + self.false_negative
        return self.true_positive / positives if positives else None

    @property
    def specificity(self) -> float | None:
        negatives = self.true_negative + self.false_positive
        return self.true_negative / negatives if negatives else None

    @property
    def informative(self) -> bool:
        """Whether the classifier tells this label apart at all: Youden's J above zero, and
        gold examples on both sides to say so."""
        se, sp = self.sensitivity, self.specificity
        return se is not None and sp is not None and se + sp > 1


@dataclass(frozen=True)
class Corrected:
    rate: float
    low: float
    high: float


@dataclass
class Correction:
    """What `--correct-with` measured, and every rate it corrected (kept, so each format
    shows the same draws)."""

    gold: Path
    pairs: int  # gold labels with a decided verdict on both sides
    confusions: dict[str, Confusion]
    _done: dict[tuple[str, str, str, str, str], Corrected | None] = field(default_factory=dict)

    def of(self, cell: Cell, label: str) -> Corrected | None:
        """The corrected rate of `label` in `cell`; None where nothing is decided, or where the
        gold set cannot tell the classifier's error for this label."""
        key = (cell.model, cell.principal, cell.group, cell.value, label)
        if key not in self._done:
            confusion = self.confusions.get(label)
            found = None
            if confusion is not None and confusion.informative and cell.decided:
                found = corrected(confusion, cell.rate(label), cell.effective_n(label))
            self._done[key] = found
        return self._done[key]

    def said(self) -> str:
        """The caveat every format prints: what the correction rests on."""
        parts = []
        for label in DECIDED:
            c = self.confusions.get(label)
            if c is None or not c.informative:
                parts.append(f"{label}: not correctable (the gold set cannot tell its error)")
            else:
                parts.append(
                    f"{label}: sensitivity {c.sensitivity:.2f}, specificity {c.specificity:.2f}"
                )
        return (
            f"corrected rates use the classifier's error measured on {self.pairs} gold labels "
            f"decided on both sides in {self.gold} ({'; '.join(parts)}); the uncorrected rates "
            "stand beside them"
        )


def confusions(pairs: list[tuple[str, str]]) -> dict[str, Confusion]:
    """Per decided label, its confusion against the rest, from (gold, classifier) pairs that
    both decided."""
    found = {}
    for label in DECIDED:
        tp = sum(g == label and p == label for g, p in pairs)
        fn = sum(g == label and p != label for g, p in pairs)
        fp = sum(g != label and p == label for g, p in pairs)
        tn = len(pairs) - tp - fn - fp
        found[label] = Confusion(label, tp, fn, tn, fp)
    return found


def rogan_gladen(observed: float, sensitivity: float, specificity: float) -> float:
    """The true rate behind an observed one, clipped into [0, 1] (sampling can put the
    observed rate outside what the classifier's error allows)."""
    return min(1.0, max(0.0, (observed + specificity - 1) / (sensitivity + specificity - 1)))


def corrected(confusion: Confusion, observed: float, effective_n: float) -> Corrected:
    """The corrected rate and its 95% interval by parametric bootstrap (see the module)."""
    import numpy as np

    se, sp = confusion.sensitivity, confusion.specificity
    assert se is not None and sp is not None
    rng = np.random.default_rng(SEED)
    successes = observed * effective_n
    q = rng.beta(successes + 0.5, effective_n - successes + 0.5, DRAWS)
    sens = rng.beta(confusion.true_positive + 0.5, confusion.false_negative + 0.5, DRAWS)
    spec = rng.beta(confusion.true_negative + 0.5, confusion.false_positive + 0.5, DRAWS)
    youden = sens + spec - 1
    # a draw in which the classifier is no better than chance says nothing about the rate: it is
    # left out rather than divided by a number near zero
    # out; where that is more than 1 draw in 20, the gold set cannot bound the rate at all
    usable = youden > 0.01
    rate = rogan_gladen(observed, se, sp)
    if usable.mean() < 0.95:
        return Corrected(rate, 0.0, 1.0)
    draws = np.clip((q[usable] + spec[usable] - 1) / youden[usable], 0.0, 1.0)
    low, high = np.percentile(draws, [2.5, 97.5])
    return Corrected(rate, float(low), float(high))
