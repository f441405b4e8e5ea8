"""Interval estimates for rates: every rate ihsim prints carries its count and a 95% interval."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
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
    """Two-sided p-value of Fisher's exact test for the table [[a, b], [c, d]]: the probability,
    with the margins fixed, of a table no more likely than the one observed."""
    row, column, n = a + b, a + c, a + b + c + d
    if n == 0:
        return 1.0
    total = math.comb(n, column)

    def probability(x: int) -> float:
        return math.comb(row, x) * math.comb(n - row, column - x) / total

    observed = probability(a)
    low, high = max(0, column - (n - row)), min(row, column)
    p = sum(q for x in range(low, high + 1) if (q := probability(x)) <= observed * (1 + 1e-9))
    return min(1.0, p)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: family-wise error controlled over all the comparisons made."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
