from conflicts.analysis.intervals import cohen_kappa, fisher_exact, holm, wilson


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
