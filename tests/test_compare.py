import json

from tests.conftest import Invoke
from tests.test_cli import MODELS, generate


def classified_run(ihsim: Invoke, *models: str) -> str:
    generate(ihsim)
    run = ihsim("run", "d.jsonl", *models, "--epochs", "5", "-q").stdout.strip()
    ihsim("classify")
    return run


def test_schemer_subverts_the_user_significantly_more_than_deferential(ihsim: Invoke) -> None:
    classified_run(ihsim, *MODELS)
    rows = json.loads(ihsim("compare", "--json").stdout)
    assert len(rows) == 3 * 3  # three principals, three pairs of models
    pair = {(r["principal"], r["model_a"], r["model_b"]): r for r in rows}
    schemer = pair["end_user", "sim/deferential", "sim/schemer"]
    # decisively (the exact p moves with the dilemma ids that seed the personas' draws)
    assert schemer["significant"] and schemer["p_holm"] < 1e-6
    assert schemer["rate_b"] > schemer["rate_a"]
    literal = pair["end_user", "sim/deferential", "sim/literal"]
    assert not literal["significant"] and literal["p_holm"] >= literal["p"]
    sentences = ihsim("compare").stdout
    assert "end_user: sim/schemer subverts more often than sim/deferential by" in sentences
    assert "significant at 0.05" in sentences and "not significant at 0.05" in sentences


def test_models_can_be_chosen_and_runs_pooled(ihsim: Invoke) -> None:
    first = classified_run(ihsim, *MODELS)
    second = ihsim("run", "d.jsonl", *MODELS, "--epochs", "2", "-q").stdout.strip()
    ihsim("classify", second)
    args = ["compare", first, second, first, "-m", "sim/schemer", "-m", "sim/literal", "--json"]
    rows = json.loads(ihsim(*args).stdout)
    assert len(rows) == 3
    assert all({r["model_a"], r["model_b"]} == {"sim/literal", "sim/schemer"} for r in rows)
    assert all(r["n_a"] == r["n_b"] == 60 + 24 for r in rows)  # 12 dilemmas x (5 + 2) epochs


def test_compare_needs_verdicts_and_two_models(ihsim: Invoke) -> None:
    generate(ihsim)
    ihsim("run", "d.jsonl", "-m", "sim/literal", "-q")
    result = ihsim("compare")
    assert result.exit_code == 2 and "run `ihsim classify` first" in result.stderr
    ihsim("classify")
    result = ihsim("compare")
    assert result.exit_code == 2 and "fewer than two models" in result.stderr


def test_an_axis_that_was_not_varied_is_shown_but_never_compared(ihsim: Invoke) -> None:
    """environment-hacking's framing changes nothing where nothing is prohibited: those
    dilemmas are reported under `not varied here`, and left out of the framing comparison."""
    ihsim("generate", "-f", "environment-hacking", "-o", "d.jsonl")
    assert ihsim("run", "d.jsonl", "-m", "sim/schemer", "-q").exit_code == 0
    assert ihsim("classify").exit_code == 0
    rows = json.loads(ihsim("report", "--json").stdout)["rows"]
    assert any(r["group"] == "framing" and r["value"] == "not varied here" for r in rows)
    compared = ihsim("compare", "--axis", "framing").stdout
    assert "framing=prohibitive" in compared and "not varied here" not in compared
