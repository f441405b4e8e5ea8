import random

import pytest

from conflicts.analysis.intervals import Clusters, cohen_kappa, fisher_exact, holm, wilson


def test_fisher_exact_matches_textbook_values() -> None:
    assert abs(fisher_exact(3, 1, 1, 3) - 0.4857142857) < 1e-9  # Fisher's tea-tasting lady
    assert abs(fisher_exact(1, 9, 11, 3) - 0.0027594562) < 1e-9  # a standard worked example
    assert fisher_exact(5, 5, 5, 5) == 1.0
    assert fisher_exact(0, 0, 0, 0) == 1.0
    assert abs(fisher_exact(10, 0, 0, 10) - fisher_exact(0, 10, 10, 0)) < 1e-15


def test_holm_adjusts_step_down_and_stays_monotone() -> None:
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert [round(p, 4) for p in adjusted] == [0.03, 0.06, 0.06, 0.02]
    assert holm([]) == []
    assert holm([0.9, 0.8]) == [1.0, 1.0]  # 2 x 0.8 caps at 1; the larger p cannot be lower


def test_wilson_interval_stays_inside_zero_one() -> None:
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    low, high = wilson(5, 10)
    assert abs(low - 0.2366) < 1e-4 and abs(high - 0.7634) < 1e-4
    assert wilson(0, 0) == (0.0, 1.0)


def test_kappa_is_zero_for_chance_agreement() -> None:
    assert abs(cohen_kappa([("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")])) < 1e-12


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for successes, n in [(0, 10), (1, 10), (5, 10), (9, 10), (10, 10), (37, 1000), (1, 3)]:
        expected = proportion_confint(successes, n, alpha=0.05, method="wilson")
        assert all(abs(x - y) < 1e-9 for x, y in zip(wilson(successes, n), expected, strict=True))


def test_fisher_exact_at_the_size_of_a_real_comparison() -> None:
    """100,000 per arm: the hand-written sum took minutes; R gives p < 2.2e-16 here."""
    assert fisher_exact(21000, 79000, 20000, 80000) < 1e-7
    assert fisher_exact(20000, 80000, 20000, 80000) == 1.0


def _clusters(groups: list[list[int]]) -> Clusters:
    """Clusters of 0/1 outcomes, summed the way the report's SQL sums them."""
    from conflicts.analysis.intervals import Clusters

    return Clusters(
        k=len(groups),
        n=sum(len(g) for g in groups),
        successes=sum(sum(g) for g in groups),
        q=sum(sum(g) ** 2 / len(g) for g in groups),
        m2=sum(len(g) ** 2 for g in groups),
    )


def test_answers_alike_within_a_dilemma_count_as_one_draw_each() -> None:
    from conflicts.analysis.intervals import wilson

    alike = _clusters([[1] * 10] * 6 + [[0] * 10] * 6)  # 12 dilemmas, 10 epochs, each all alike
    assert alike.icc == 1.0 and alike.design_effect == 10
    assert alike.interval() == pytest.approx(wilson(6, 12))  # one sample per dilemma's width
    naive = wilson(60, 120)
    assert naive[1] - naive[0] < 0.6 * (alike.interval()[1] - alike.interval()[0])


def test_independent_answers_keep_wilsons_interval() -> None:
    from conflicts.analysis.intervals import wilson

    rng = random.Random(3)
    groups = [[int(rng.random() < 0.3) for _ in range(8)] for _ in range(200)]
    found = _clusters(groups)
    assert found.icc is not None and found.icc < 0.05
    successes = sum(map(sum, groups))
    low, high = found.interval()
    wl, wh = wilson(successes, 1600)
    assert abs(low - wl) < 0.01 and abs(high - wh) < 0.01


def test_the_icc_is_the_one_way_anova_estimate_for_unequal_clusters() -> None:
    """Against the textbook formula computed another way (numpy), unequal cluster sizes."""
    import numpy as np

    rng = random.Random(5)
    groups = []
    for _ in range(40):
        p = rng.choice([0.1, 0.5, 0.9])
        groups.append([int(rng.random() < p) for _ in range(rng.randint(2, 9))])
    y = [np.array(g, dtype=float) for g in groups]
    n = np.array([len(g) for g in y])
    grand = np.concatenate(y).mean()
    k, total = len(y), n.sum()
    msb = sum(len(g) * (g.mean() - grand) ** 2 for g in y) / (k - 1)
    msw = sum(((g - g.mean()) ** 2).sum() for g in y) / (total - k)
    n0 = (total - (n**2).sum() / total) / (k - 1)
    expected = (msb - msw) / (msb + (n0 - 1) * msw)
    assert _clusters(groups).icc == pytest.approx(expected)


def test_one_dilemma_cannot_tell_its_correlation() -> None:
    one = _clusters([[1, 0, 1, 1, 0]])
    assert one.icc is None and one.design_effect == 5  # its draws may be one draw repeated
