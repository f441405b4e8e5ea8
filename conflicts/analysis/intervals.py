"""Interval estimates for rates: every rate ihsim prints carries its count and a 95% interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval, which stays inside [0, 1] and behaves at 0 and n."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the boundaries,
    high = 1.0 if successes == n else min(1.0, centre + half)  # where rounding would not be
    return (low, high)


@dataclass(frozen=True)
class Clusters:
    """One rate's clusters (dilemmas) summed: k clusters, N draws in all, S successes, and the
    sums the one-way ANOVA estimator of the intra-cluster correlation needs: Q = sum s_i^2/m_i,
    M2 = sum m_i^2."""

    k: int
    n: int
    successes: int
    q: float
    m2: int

    @property
    def icc(self) -> float | None:
        """The intra-dilemma correlation of the outcome (ANOVA estimator for unequal cluster
        sizes, clipped at 0); None with fewer than two dilemmas, where it cannot be told."""
        k, n, s = self.k, self.n, self.successes
        if k < 2 or n <= k:
            return None if k < 2 else 0.0
        between = (self.q - s * s / n) / (k - 1)
        within = (s - self.q) / (n - k)
        m0 = (n - self.m2 / n) / (k - 1)
        denominator = between + (m0 - 1) * within
        if denominator <= 0:
            return 0.0
        return min(1.0, max(0.0, (between - within) / denominator))

    @property
    def design_effect(self) -> float:
        """Kish's design effect, 1 + (m - 1) ICC with m the size-weighted mean cluster size;
        with one dilemma, the size of that cluster (its draws may be one draw repeated)."""
        if not self.n:
            return 1.0
        weighted = self.m2 / self.n
        icc = self.icc
        return weighted if icc is None else 1 + (weighted - 1) * icc

    @property
    def effective_n(self) -> float:
        """What the n draws are worth as independent ones: n / design effect."""
        return self.n / self.design_effect if self.n else 0.0

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """Wilson's interval on the effective sample size, n / design effect: as wide as the
        dilemmas warrant when answers to one dilemma agree, Wilson's own when each dilemma
        has one transcript (or its answers are independent)."""
        if not self.n:
            return (0.0, 1.0)
        effective = self.effective_n
        return wilson(self.successes / self.n * effective, effective, z)


def cohen_kappa(pairs: list[tuple[str, str]]) -> float:
    """Agreement beyond chance between two labellings of the same items."""
    if not pairs:
        return 0.0
    labels = {label for pair in pairs for label in pair}
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    expected = sum(
        (sum(a == label for a, _ in pairs) / n) * (sum(b == label for _, b in pairs) / n)
        for label in labels
    )
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the table [[a, b], [c, d]], SciPy's: a sum
    written here over exact binomials grew as n^2.6 and took minutes at 30,000 per arm."""
    from scipy.stats import fisher_exact as scipy_fisher  # imported only where tests are made

    if a + b + c + d == 0:
        return 1.0
    return float(scipy_fisher([[a, b], [c, d]], alternative="two-sided").pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment, statsmodels': family-wise error controlled over all the
    comparisons made."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(p_values, method="holm")[1]]
