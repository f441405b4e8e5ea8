import json
import re
from pathlib import Path

from conflicts.run.prices import Price, PriceTable, load_prices
from conflicts.store.transcript import Usage
from tests.conftest import Invoke, write
from tests.fake_servers import OpenAIServer, serving
from tests.test_providers import dilemma_file, run_fake

PRICES = (
    'models:\n  "openai-compatible/m": {input: 1.0, output: 2.0}\n'
    '  "sim/*": {input: 0, output: 0}\n'
)
PER_TRANSCRIPT = (50 * 1.0 + 20 * 2.0) / 1e6  # the fake server's usage: 50 in, 20 out


def test_exact_name_then_longest_prefix() -> None:
    table = PriceTable(
        models={
            "openai/gpt-4o*": Price(input=2.5, output=10),
            "openai/gpt-4o-mini*": Price(input=0.15, output=0.6),
            "openai/gpt-4o-2024": Price(input=5, output=15),
        }
    )
    assert table.price("openai/gpt-4o-mini-2024") == Price(input=0.15, output=0.6)
    assert table.price("openai/gpt-4o-2024") == Price(input=5, output=15)
    assert table.price("openai/gpt-4o-audio") == Price(input=2.5, output=10)
    assert table.price("anthropic/x") is None
    assert table.cost("openai/gpt-4o", Usage(input_tokens=1_000_000, output_tokens=500_000)) == 7.5
    assert load_prices().cost("sim/schemer", Usage(input_tokens=10, output_tokens=10)) == 0.0


def test_cost_counts_only_calls_actually_made(ihsim: Invoke, tmp_path: Path) -> None:
    prices = write(tmp_path / "prices.yaml", PRICES)
    dilemmas = dilemma_file(tmp_path / "d.jsonl")
    with serving(OpenAIServer) as server:
        base = (ihsim, dilemmas, f"{server.url}/v1", "--prices", str(prices), "--json")
        first = json.loads(run_fake(*base, "-e", "1").stdout)
        second = json.loads(run_fake(*base, "-e", "2").stdout)
    assert abs(first["cost_usd"] - 12 * PER_TRANSCRIPT) < 1e-9
    assert second["cached_turns"] == 12
    assert abs(second["cost_usd"] - 12 * PER_TRANSCRIPT) < 1e-9  # only epoch 1 was paid for


def test_max_cost_stops_cleanly_and_a_rerun_continues(ihsim: Invoke, tmp_path: Path) -> None:
    prices = write(tmp_path / "prices.yaml", PRICES)
    dilemmas = dilemma_file(tmp_path / "d.jsonl")
    with serving(OpenAIServer) as server:
        base = (ihsim, dilemmas, f"{server.url}/v1", "--prices", str(prices), "-c", "1", "-e", "2")
        stopped = run_fake(*base, "--max-cost", str(5 * PER_TRANSCRIPT), "--json")
        outcome = json.loads(stopped.stdout)
        assert stopped.exit_code == 1
        assert outcome["stopped_at_max_cost"] and 5 <= outcome["done"] < 24
        assert "reaching --max-cost" in stopped.stderr
        assert "transcripts not started" in stopped.stderr
        finished = json.loads(run_fake(*base, "--max-cost", "1", "--json").stdout)
    assert finished["done"] + outcome["done"] == 24 and not finished["stopped_at_max_cost"]
    assert abs(finished["cost_usd"] - 24 * PER_TRANSCRIPT) < 1e-9


def test_a_budget_needs_a_price_for_every_model(ihsim: Invoke, tmp_path: Path) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl")
    result = ihsim(
        "run",
        str(dilemmas),
        "-m",
        "openai-compatible/unpriced",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--max-cost",
        "1",
    )
    assert result.exit_code == 2
    assert "no price for 'openai-compatible/unpriced'" in result.stderr


def test_bad_price_file_is_a_located_error(ihsim: Invoke, tmp_path: Path) -> None:
    prices = write(tmp_path / "p.yaml", 'models:\n  "sim/*": {input: -1, output: 0}\n')
    dilemmas = dilemma_file(tmp_path / "d.jsonl")
    result = ihsim("run", str(dilemmas), "-m", "sim/literal", "--prices", str(prices))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {prices}:2: models.sim/*.input: ")


def test_the_models_the_readme_runs_have_built_in_prices() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    named = set(re.findall(r"-m ((?:anthropic|openai)/[\w.-]+)", readme))
    assert {"anthropic/claude-sonnet-4-5", "openai/gpt-4.1", "openai/o4-mini"} <= named
    prices = load_prices()
    assert [m for m in sorted(named) if prices.price(m) is None] == []


def test_nothing_starts_once_the_budget_is_spent(ihsim: Invoke, tmp_path: Path) -> None:
    """With one connection the budget is met exactly: the fifth transcript reaches it and none
    starts after (the writer's lag let one more start)."""
    prices = write(tmp_path / "prices.yaml", PRICES)
    dilemmas = dilemma_file(tmp_path / "d.jsonl")
    with serving(OpenAIServer) as server:
        base = (ihsim, dilemmas, f"{server.url}/v1", "--prices", str(prices), "-c", "1", "-e", "2")
        stopped = run_fake(*base, "--max-cost", str(4.5 * PER_TRANSCRIPT), "--json")
        requests = server.behaviour.counts["requests"]
    assert json.loads(stopped.stdout)["done"] == 5
    assert requests == 5
