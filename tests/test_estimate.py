"""`ihsim estimate` against what the fake servers bill: their tokenizer is not ihsim's
characters-over-four, their prompt cache works as the providers document theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Invoke
from tests.deployment import long_prefix
from tests.fake_servers import ANSWER_TOKENS, AnthropicServer, Behaviour, OpenAIServer, serving
from tests.test_providers import dilemma_file

PRICES = (
    "models:\n"
    '  "openai/m": {input: 1.0, output: 4.0, cache_read: 0.25}\n'
    '  "anthropic/m": {input: 1.0, output: 4.0, cache_read: 0.1, cache_write: 1.25}\n'
)
SERVERS = {
    "openai": (OpenAIServer, "openai/m", "/v1"),
    "anthropic": (AnthropicServer, "anthropic/m", ""),
}
# the built-in families without tools that the model-spec hierarchy hosts
SINGLE_TURN = ("confidential-instructions", "harmful-operator", "impersonated-authority")


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("OPENAI_API_KEY", "k")


def billed(ihsim: Invoke, dilemmas: Path, kind: str, db: Path, *extra: str) -> float:
    server_kind, model, suffix = SERVERS[kind]
    prices = db.with_suffix(".prices.yaml")
    prices.write_text(PRICES)
    with serving(server_kind, Behaviour(count_tokens=True)) as server:
        ran = ihsim(
            "run",
            str(dilemmas),
            "-m",
            model,
            "--base-url",
            server.url + suffix,
            "--db",
            str(db),
            "--json",
            "--prices",
            str(prices),
            *extra,
        )
    assert ran.exit_code == 0, ran.stderr
    return float(json.loads(ran.stdout)["cost_usd"])


def estimated(ihsim: Invoke, dilemmas: Path, kind: str, db: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    prices = db.with_suffix(".prices.yaml")
    prices.write_text(PRICES)
    shown = ihsim(
        "estimate",
        str(dilemmas),
        "-m",
        SERVERS[kind][1],
        "--prices",
        str(prices),
        "--db",
        str(db),
        "--json",
        *extra,
    )
    assert shown.exit_code == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    return row  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", sorted(SERVERS))
@pytest.mark.parametrize("family", SINGLE_TURN)
def test_the_estimate_is_within_15_percent_of_the_bill(
    ihsim: Invoke, tmp_path: Path, family: str, kind: str
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", family, sample=12)
    row = estimated(
        ihsim, dilemmas, kind, tmp_path / "none.db", "--output-tokens", str(ANSWER_TOKENS)
    )
    cost = billed(ihsim, dilemmas, kind, tmp_path / "r.db", "--no-prompt-cache")
    assert row["requests"] == row["transcripts"] == 12 and row["agentic"] == 0
    assert abs(row["cost_usd"]["live"] / cost - 1) <= 0.15, (row["cost_usd"]["live"], cost)
    assert row["cost_usd"]["batch"] == pytest.approx(row["cost_usd"]["live"] / 2)


def test_output_tokens_come_from_the_models_answers_in_the_store(
    ihsim: Invoke, tmp_path: Path
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=4)
    db = tmp_path / "r.db"
    assert estimated(ihsim, dilemmas, "openai", db)["output_from"].startswith("assumed")
    billed(ihsim, dilemmas, "openai", db)
    row = estimated(ihsim, dilemmas, "openai", db)
    assert row["output_per_answer"] == ANSWER_TOKENS
    assert "the mean of its 4 answers" in row["output_from"]


def test_a_long_shared_prefix_is_cached_as_estimated(ihsim: Invoke, tmp_path: Path) -> None:
    """Anthropic bills a cache write once per prefix and reads at a tenth after. The family's
    dilemmas share a long opening, which ihsim sends as its own cached block: one epoch costs
    well under the uncached run, four epochs (each dilemma's whole prefix met again) less
    still, each about as estimated."""
    dilemmas = long_prefix(dilemma_file(tmp_path / "d.jsonl", sample=12), tmp_path / "long.jsonl")
    for epochs in ("1", "4"):
        plain = billed(
            ihsim,
            dilemmas,
            "anthropic",
            tmp_path / f"plain{epochs}.db",
            "--no-prompt-cache",
            "-e",
            epochs,
        )
        cached = billed(ihsim, dilemmas, "anthropic", tmp_path / f"cached{epochs}.db", "-e", epochs)
        row = estimated(
            ihsim,
            dilemmas,
            "anthropic",
            tmp_path / "none.db",
            "--output-tokens",
            str(ANSWER_TOKENS),
            "-e",
            epochs,
        )
        assert cached < (0.6 if epochs == "1" else 0.35) * plain, (epochs, cached, plain)
        assert abs(row["cost_usd"]["live_cached"] / cached - 1) <= 0.15, (epochs, row, cached)
        assert abs(row["cost_usd"]["live"] / plain - 1) <= 0.15
        assert row["cache_read_tokens"] > 0 and row["cache_write_tokens"] > 0


def test_the_shared_opening_is_sent_as_its_own_block_with_the_text_unchanged(
    tmp_path: Path,
) -> None:
    from conflicts.providers.registry import make_provider
    from conflicts.run.plan import plan_run
    from conflicts.run.shared_prefix import share_prefixes
    from conflicts.scenarios.dilemma import read_dilemma_lines
    from conflicts.store.database import Store

    dilemmas = long_prefix(dilemma_file(tmp_path / "d.jsonl", sample=6), tmp_path / "long.jsonl")
    with Store(tmp_path / "s.db") as store:
        run = plan_run(store, dilemmas, ["anthropic/m"], 1, {"base_url": "http://127.0.0.1:9"})
        provider = make_provider("anthropic/m", run.params)
        share_prefixes(store, run, [provider])
    assert set(provider.shared) == {"confidential-instructions"}  # type: ignore[attr-defined]
    for _, _, dilemma in read_dilemma_lines(dilemmas):
        body = provider.body(dilemma, list(dilemma.messages))  # type: ignore[attr-defined]
        system = "\n\n".join(m.content for m in dilemma.messages if m.role == "system")
        assert "".join(block["text"] for block in body["system"]) == system
        assert [("cache_control" in b) for b in body["system"]] == [True, True]
        assert body["system"][0]["text"].startswith("Deployment policy, section 0")
