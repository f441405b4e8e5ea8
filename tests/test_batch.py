"""Batch runs through the real SDKs against the fake servers' batch APIs (Anthropic's Message
Batches, OpenAI's files and batches), and the batch-file round trip an engine of one's own
(vLLM's run-batch) answers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from conflicts.store.database import Store
from tests.conftest import Invoke
from tests.fake_servers import AnthropicServer, Behaviour, OpenAIServer, serving
from tests.test_providers import dilemma_file

KEY = "sk-fake-batch-key"
SERVERS = {
    "anthropic": (AnthropicServer, "anthropic/m", ""),
    "openai": (OpenAIServer, "openai/m", "/v1"),
}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def stored(db: Path) -> list[tuple[object, ...]]:
    with Store(db) as store:
        return store.db.execute(
            "SELECT dilemma_id, model, epoch, status, stop_reason, final_answer FROM transcripts"
        ).fetchall()


def batch_run(ihsim: Invoke, dilemmas: Path, model: str, url: str, db: Path, *extra: str):  # type: ignore[no-untyped-def]
    return ihsim(
        "run",
        str(dilemmas),
        "-m",
        model,
        "--base-url",
        url,
        "--batch",
        "--poll-interval",
        "0.01",
        "--db",
        str(db),
        "--json",
        *extra,
    )


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_a_batch_run_gives_what_a_live_run_gives(ihsim: Invoke, tmp_path: Path, kind: str) -> None:
    """Agentic dilemmas go round by round (tool call, then answer); every transcript equals the
    live run's, each request went out once, and the batch price is half the live one."""
    server_kind, model, suffix = SERVERS[kind]
    dilemmas = dilemma_file(tmp_path / "d.jsonl", "self-preservation", sample=6)
    prices = tmp_path / "prices.yaml"
    prices.write_text(f'models:\n  "{model}": {{input: 1.0, output: 2.0}}\n')
    with serving(server_kind, Behaviour(batch_polls=2)) as server:
        url = server.url + suffix
        batched = batch_run(
            ihsim, dilemmas, model, url, tmp_path / "b.db", "-e", "2", "--prices", str(prices)
        )
        assert batched.exit_code == 0, batched.stderr
        submitted = dict(server.behaviour.submitted)
        live = ihsim(
            "run",
            str(dilemmas),
            "-m",
            model,
            "--base-url",
            url,
            "-e",
            "2",
            "--db",
            str(tmp_path / "l.db"),
            "--json",
            "--prices",
            str(prices),
        )
        assert live.exit_code == 0, live.stderr
    outcome, live_outcome = json.loads(batched.stdout), json.loads(live.stdout)
    assert outcome["done"] == live_outcome["done"] == 12
    assert sorted(stored(tmp_path / "b.db")) == sorted(stored(tmp_path / "l.db"))
    assert set(submitted.values()) == {1}  # no request twice
    assert len(submitted) == 2 * 12  # a tool call and an answer per transcript
    assert "batches in progress" in batched.stderr and "round 2" in batched.stderr
    assert abs(outcome["cost_usd"] - live_outcome["cost_usd"] / 2) < 1e-9
    with Store(tmp_path / "b.db") as store:
        states = store.db.execute("SELECT state, COUNT(*) FROM batches GROUP BY state").fetchall()
        assert states == [("collected", 2)]  # one batch a round: the tool call, the answer
