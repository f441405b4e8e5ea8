"""`ihsim power`: dilemmas and epochs a comparison needs, and what a run could have detected."""

import json
import math

import numpy as np
import pytest

from conflicts.analysis.power import detectable, independent_draws, needed
from tests.conftest import Invoke


def _rate_at(base: float, h: float) -> float:
    return math.sin(math.asin(math.sqrt(base)) + h / 2) ** 2


def test_cohens_table_for_two_proportions() -> None:
    """Cohen (1988), table 6.4.1: h = 0.40 at two-sided alpha 0.05 and power 0.80 needs 98 per
    group; h = 0.20 needs 392."""
    assert independent_draws(0.5, _rate_at(0.5, 0.40), 0.05, 0.80) == pytest.approx(98, abs=0.5)
    assert independent_draws(0.2, _rate_at(0.2, 0.20), 0.05, 0.80) == pytest.approx(392, abs=1)


def test_epochs_help_only_as_far_as_answers_to_a_dilemma_differ() -> None:
    alone = needed(0.1, 0.15, 0.05, 0.8, 0.0, 1)
    independent = needed(0.1, 0.15, 0.05, 0.8, 0.0, 5)
    assert independent.transcripts == pytest.approx(alone.transcripts, abs=5)
    alike = needed(0.1, 0.15, 0.05, 0.8, 1.0, 5)  # every epoch the same answer
    assert alike.dilemmas == alone.dilemmas and alike.transcripts == 5 * alone.transcripts
    partly = needed(0.1, 0.15, 0.05, 0.8, 0.2, 5)
    assert independent.dilemmas < partly.dilemmas < alike.dilemmas


def test_the_detectable_rate_is_the_plan_turned_around() -> None:
    rate = detectable(0.2, 300, 0.05, 0.8)
    assert rate is not None and 0.2 < rate < 0.4
    assert independent_draws(0.2, rate, 0.05, 0.8) == pytest.approx(300, rel=1e-6)
    assert detectable(0.9, 3, 0.05, 0.8) is None  # no rate up to 1 is far enough


def test_the_plan_has_the_power_it_promises() -> None:
    """Simulated: the planned n per arm finds 30% against 45% about 80 times in 100."""
    from scipy.stats import chi2_contingency

    n = math.ceil(independent_draws(0.30, 0.45, 0.05, 0.80))
    rng = np.random.default_rng(4)
    found = 0
    for _ in range(600):
        a, b = rng.binomial(n, 0.30), rng.binomial(n, 0.45)
        table = [[a, n - a], [b, n - b]]
        found += chi2_contingency(table, correction=False).pvalue < 0.05
    assert 0.75 <= found / 600 <= 0.86


def test_power_plans_by_epochs_and_reads_a_runs_design(ihsim: Invoke) -> None:
    plan = ihsim("power", "--base-rate", "0.1", "--effect", "0.05", "--icc", "0.2")
    assert plan.exit_code == 0, plan.output
    assert "to tell 15.0% from 10.0%" in plan.stdout and "10 epochs a dilemma" in plan.stdout
    rows = json.loads(
        ihsim(
            "power",
            "--base-rate",
            "0.1",
            "--effect",
            "0.05",
            "--icc",
            "0.2",
            "--epochs",
            "5",
            "--json",
        ).stdout
    )
    assert [r["epochs"] for r in rows] == [5]
    assert rows[0]["dilemmas"] == needed(0.1, 0.15, 0.05, 0.8, 0.2, 5).dilemmas
    from tests.test_cli import generate

    generate(ihsim)
    ihsim("run", "d.jsonl", "-m", "sim/schemer", "--epochs", "3", "-q")
    ihsim("classify")
    cells = json.loads(ihsim("power", "--effect", "0.1", "--json").stdout)
    [user] = [c for c in cells if c["principal"] == "end_user"]
    report = json.loads(ihsim("report", "--json").stdout)["rows"]
    [row] = [
        r
        for r in report
        if r["group"] == "all" and r["principal"] == "end_user" and r["measure"] == "subvert"
    ]
    assert user["rate"] == row["rate"] and user["icc"] == pytest.approx(row["icc"] or 0, abs=1e-4)
    assert user["transcripts_per_dilemma"] == pytest.approx(row["n"] / row["dilemmas"], abs=0.01)
    assert user["detectable_rate"] > user["rate"] and user["needed_dilemmas"] > 0
    assert "what these transcripts can detect" in ihsim("power").stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--base-rate", "0.1"], "a plan needs --effect"),
        (["--base-rate", "0.9", "--effect", "0.2"], "strictly between 0 and 1"),
        (["--base-rate", "0.1", "--effect", "0.05", "--epochs", "5"], "give --icc"),
        (["--icc", "0.2"], "a run gives its own ICC"),
        (["--base-rate", "0", "--effect", "0.05"], "base-rate"),
    ],
)
def test_bad_plans_are_bad_input(ihsim: Invoke, args: list[str], said: str) -> None:
    result = ihsim("power", *args)
    assert result.exit_code == 2 and said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
