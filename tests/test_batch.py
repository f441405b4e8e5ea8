"""Batch runs through the real SDKs against the fake servers' batch APIs (Anthropic's Message
Batches, OpenAI's files and batches), and the batch-file round trip an engine of one's own
(vLLM's run-batch) answers."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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
    listed = ihsim("runs", "--db", str(tmp_path / "b.db"), "--json")
    (row,) = json.loads(listed.stdout)
    assert row["batches"] == {"batches": {"collected": 2}, "requests": {"succeeded": 24}}
    shown = ihsim("runs", "--db", str(tmp_path / "b.db"))
    assert "2 collected" in shown.stdout and "requests: 24 succeeded" in shown.stdout


def test_requests_that_fail_inside_a_batch_are_sent_again_and_their_errors_kept(
    ihsim: Invoke, tmp_path: Path
) -> None:
    """A third of requests err or expire inside their batch: each is sent again next round,
    as many times as the store says it was tried; a rerun finishes whatever ran out of tries."""
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=8)
    db = tmp_path / "b.db"
    faults = {"errored": 0.2, "expired": 0.15}
    with serving(OpenAIServer, Behaviour(batch_faults=faults, seed=3)) as server:
        url = server.url + "/v1"
        first = batch_run(ihsim, dilemmas, "openai/m", url, db, "-e", "3")
        again = batch_run(ihsim, dilemmas, "openai/m", url, db, "-e", "3")
        submitted = server.behaviour.submitted
    assert first.exit_code in (0, 1) and again.exit_code == 0, again.stderr
    with Store(db) as store:
        tries = dict(store.db.execute("SELECT key, attempts FROM batch_requests").fetchall())
        errors = store.db.execute(
            "SELECT COUNT(*) FROM batch_requests WHERE attempts > 1 AND error IS NOT NULL"
        ).fetchone()[0]
        states = {s for (s,) in store.db.execute("SELECT DISTINCT state FROM batch_requests")}
    assert tries == dict(submitted)  # the store's count of sends is the server's
    assert max(tries.values()) > 1 and errors > 0  # some were retried, and why is kept
    assert states == {"succeeded"}
    assert (
        sum(1 for row in stored(db) if row[3] == "ok")
        == json.loads(first.stdout)["done"] + json.loads(again.stdout)["done"]
    )
    assert len([r for r in stored(db) if r[3] == "ok"]) == json.loads(again.stdout)["planned"]


def _victim(dilemmas: Path, url: str, db: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "conflicts",
        "run",
        str(dilemmas),
        "-m",
        "anthropic/m",
        "--base-url",
        url,
        "--batch",
        "--poll-interval",
        "0.05",
        "--db",
        str(db),
        "-e",
        "2",
    ]
    env = {**os.environ, "ANTHROPIC_API_KEY": KEY}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _progress(db: Path) -> tuple[int, ...]:
    if not db.exists():
        return (0, 0, 0)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as reader:
        try:
            return tuple(
                reader.execute(
                    "SELECT (SELECT COUNT(*) FROM batches),"
                    " (SELECT COUNT(*) FROM batches WHERE state = 'collected'),"
                    " (SELECT COUNT(*) FROM transcripts)"
                ).fetchone()
            )
        except sqlite3.OperationalError:
            return (0, 0, 0)


def test_a_batch_run_killed_at_any_moment_finishes_with_each_request_sent_once(
    tmp_path: Path,
) -> None:
    """Killed at random moments (planning, submitting, polling, collecting), then run to the
    end: exactly N transcripts, and the server saw every request once."""
    dilemmas = dilemma_file(tmp_path / "d.jsonl", "self-preservation", sample=8)
    db = tmp_path / "k.db"
    rng = random.Random(7)
    with serving(AnthropicServer, Behaviour(batch_polls=6)) as server:
        moments: list[tuple[int, ...]] = []  # (batches, collected, transcripts) at each kill
        # each victim is killed once the run reaches a stage, a few milliseconds on: planned,
        # the first batch submitting or sent, collected, the second sent; then at random
        stages = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0), None, None]
        for stage in stages:
            victim = _victim(dilemmas, server.url, db)
            started = time.monotonic()
            while victim.poll() is None and time.monotonic() - started < 20:
                if stage is None or all(a >= b for a, b in zip(_progress(db), stage, strict=True)):
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05) if stage is not None else rng.uniform(0.2, 1.5))
            if victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
                moments.append(_progress(db))
            victim.communicate()
        last = _victim(dilemmas, server.url, db)
        _, err = last.communicate(timeout=60)
        submitted = dict(server.behaviour.submitted)
    assert last.returncode == 0, err
    assert len(set(moments)) >= 3, moments  # killed at several stages of the run
    rows = stored(db)
    assert len(rows) == 16 and {r[3] for r in rows} == {"ok"}
    assert len({r[:3] for r in rows}) == 16
    assert set(submitted.values()) == {1}, {k: v for k, v in submitted.items() if v > 1}
    assert len(submitted) == 32


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_a_submission_the_provider_took_but_the_store_never_recorded_is_found_not_resent(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The narrowest kill: after the provider accepted the batch, before its id was written.
    The next invocation finds the batch at the provider (OpenAI by its metadata, Anthropic by
    time and size) and polls it, sending nothing again."""
    import asyncio

    from conflicts.run import batch as batching
    from conflicts.run.plan import plan_run

    server_kind, model, suffix = SERVERS[kind]
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=5)
    db = tmp_path / "n.db"
    original = batching.BatchRun.submitted

    def killed(self: batching.BatchRun, ours: str, provider_id: str) -> None:
        raise KeyboardInterrupt

    with serving(server_kind, Behaviour()) as server, Store(db) as store:
        run = plan_run(store, dilemmas, [model], 1, {"base_url": server.url + suffix})
        monkeypatch.setattr(batching.BatchRun, "submitted", killed)
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(batching.execute_batch(store, run, poll_s=0.01))
        states = store.db.execute("SELECT state, provider_id FROM batches").fetchall()
        assert states == [("submitting", None)]
        monkeypatch.setattr(batching.BatchRun, "submitted", original)
        outcome = asyncio.run(batching.execute_batch(store, run, poll_s=0.01))
        submitted = dict(server.behaviour.submitted)
    assert outcome.done == 5 and not outcome.failed
    assert set(submitted.values()) == {1} and len(submitted) == 5


def file_run(dilemmas: Path, db: Path) -> tuple[str, ...]:
    """`ihsim run` of an openai-compatible model whose server is never called: batch files."""
    url = "http://127.0.0.1:9/v1"
    return (
        "run",
        str(dilemmas),
        "-m",
        "openai-compatible/qwen",
        "--base-url",
        url,
        "--db",
        str(db),
    )


def test_the_batch_file_round_trip_through_an_engine_of_ones_own(
    ihsim: Invoke, tmp_path: Path
) -> None:
    """Requests out in OpenAI's batch input format, vLLM-shaped results back, a file a tool
    turn, until the run is whole; a failed line is written again for the next file."""
    from tests.vllm_batch import run_batch

    dilemmas = dilemma_file(tmp_path / "d.jsonl", "self-preservation", sample=6)
    db = tmp_path / "f.db"
    base = (*file_run(dilemmas, db), "--json")
    first = ihsim(*base, "--batch-file", str(tmp_path / "r1.jsonl"))
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["waiting"] == 6
    lines = [json.loads(x) for x in (tmp_path / "r1.jsonl").read_text().splitlines()]
    assert {x["url"] for x in lines} == {"/v1/chat/completions"}
    assert all(x["method"] == "POST" and x["body"]["tools"] for x in lines)
    rounds, waiting, number = 0, 6, 1
    while waiting:
        number += 1
        rounds += 1
        run_batch(
            tmp_path / f"r{number - 1}.jsonl",
            tmp_path / f"o{number - 1}.jsonl",
            fail_every=4 if rounds == 1 else 0,
        )
        step = ihsim(
            *base,
            "--batch-results",
            str(tmp_path / f"o{number - 1}.jsonl"),
            "--batch-file",
            str(tmp_path / f"r{number}.jsonl"),
        )
        assert step.exit_code == 0, step.stderr
        waiting = json.loads(step.stdout)["waiting"]
        assert rounds < 5
    rows = stored(db)
    assert len(rows) == 6 and {r[3] for r in rows} == {"ok"}
    assert rounds == 3  # the tool call, the answer, and the answer that failed once
    with Store(db) as store:
        (kept,) = store.db.execute(
            "SELECT COUNT(*) FROM batch_requests WHERE error LIKE '400: %maximum context%'"
        ).fetchone()
    assert kept == 1


def test_a_bad_results_file_names_its_line_and_field_and_changes_nothing(
    ihsim: Invoke, tmp_path: Path
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=3)
    db = tmp_path / "f.db"
    base = file_run(dilemmas, db)
    assert ihsim(*base, "--batch-file", str(tmp_path / "r.jsonl")).exit_code == 0
    good = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])["custom_id"]
    bad = tmp_path / "o.jsonl"
    bad.write_text(
        json.dumps({"custom_id": good, "response": {"status_code": 200, "body": {}}})
        + "\n"
        + json.dumps({"response": {"status_code": 200}})
        + "\n"
    )
    failed = ihsim(*base, "--batch-results", str(bad))
    assert failed.exit_code == 2
    assert f"{bad}:2: custom_id: Field required" in failed.stderr
    with Store(db) as store:
        assert store.db.execute("SELECT COUNT(*) FROM batches").fetchone() == (0,)
    foreign = tmp_path / "x.jsonl"
    foreign.write_text(json.dumps({"custom_id": "nope", "response": {"status_code": 200}}) + "\n")
    other = ihsim(*base, "--batch-results", str(foreign))
    assert other.exit_code == 2 and "none of its 1 results" in other.stderr


def test_max_cost_stops_a_batch_run_between_rounds_and_a_rerun_continues(
    ihsim: Invoke, tmp_path: Path
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", "self-preservation", sample=4)
    prices = tmp_path / "prices.yaml"
    prices.write_text('models:\n  "openai/m": {input: 1.0, output: 2.0}\n')
    db = tmp_path / "c.db"
    with serving(OpenAIServer, Behaviour()) as server:
        url = server.url + "/v1"
        common = ("--prices", str(prices))
        stopped = batch_run(ihsim, dilemmas, "openai/m", url, db, *common, "--max-cost", "1e-9")
        after_first = len(server.behaviour.submitted)
        finished = batch_run(ihsim, dilemmas, "openai/m", url, db, *common, "--max-cost", "1")
        submitted = dict(server.behaviour.submitted)
    outcome = json.loads(stopped.stdout)
    assert stopped.exit_code == 1 and outcome["stopped_at_max_cost"] and outcome["done"] == 0
    assert "reaching --max-cost" in stopped.stderr
    assert after_first == 4  # the first round (the tool calls) was sent and paid for, no more
    assert finished.exit_code == 0 and json.loads(finished.stdout)["done"] == 4
    assert set(submitted.values()) == {1} and len(submitted) == 8


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_judges_by_batch_give_the_verdicts_live_judges_give(
    ihsim: Invoke, tmp_path: Path, kind: str
) -> None:
    import shutil

    server_kind, model, suffix = SERVERS[kind]
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=6)
    db, live_db = tmp_path / "j.db", tmp_path / "live.db"
    assert ihsim("run", str(dilemmas), "-m", "sim/literal", "--db", str(db), "-q").exit_code == 0
    shutil.copy(db, live_db)
    with serving(server_kind, Behaviour(batch_polls=2)) as server:
        judge = ("--classifier", "judge", "-j", model, "--judge-base-url", server.url + suffix)
        batched = ihsim("classify", *judge, "--batch", "--poll-interval", "0.01", "--db", str(db))
        assert batched.exit_code == 0, batched.stderr
        sent = dict(server.behaviour.submitted)
        live_requests = server.behaviour.counts["ok"]
        live = ihsim("classify", *judge, "--db", str(live_db))
        assert live.exit_code == 0, live.stderr
        assert server.behaviour.counts["ok"] > live_requests  # live judges were asked live
    assert set(sent.values()) == {1} and len(sent) == 6
    assert "6 judge requests sent by batch, 6 answered" in batched.stderr

    def verdicts(path: Path) -> list[tuple[object, ...]]:
        with Store(path) as store:
            return store.db.execute(
                "SELECT t.dilemma_id, v.principal, v.classifier, v.label FROM verdicts v"
                " JOIN transcripts t ON t.id = v.transcript_id ORDER BY 1, 2, 3"
            ).fetchall()

    assert verdicts(db) == verdicts(live_db) and len(verdicts(db)) > 6


def test_models_without_a_batch_api_are_refused_before_anything_is_written(
    ihsim: Invoke, tmp_path: Path
) -> None:
    dilemmas = dilemma_file(tmp_path / "d.jsonl", sample=2)
    db = tmp_path / "none.db"
    refused = ihsim("run", str(dilemmas), "-m", "sim/literal", "--batch", "--db", str(db))
    assert refused.exit_code == 2 and "--batch takes anthropic/MODEL" in refused.stderr
    to_file = ihsim(
        "run", str(dilemmas), "-m", "anthropic/m", "--batch-file", "r.jsonl", "--db", str(db)
    )
    assert to_file.exit_code == 2 and "openai-compatible/MODEL only" in to_file.stderr
    assert not db.exists() and not (tmp_path / "r.jsonl").exists()


def test_turns_an_earlier_run_answered_are_counted_once_and_not_sent(
    ihsim: Invoke, tmp_path: Path
) -> None:
    """More epochs make a new run, whose first epochs the cache answers: each of those turns is
    counted once in `cached_turns` (not once a round) and none is sent again."""
    dilemmas = dilemma_file(tmp_path / "d.jsonl", "self-preservation", sample=3)
    db = tmp_path / "e.db"
    with serving(OpenAIServer, Behaviour()) as server:
        url = server.url + "/v1"
        first = batch_run(ihsim, dilemmas, "openai/m", url, db, "-e", "1")
        more = batch_run(ihsim, dilemmas, "openai/m", url, db, "-e", "2")
        submitted = dict(server.behaviour.submitted)
    assert first.exit_code == 0 and more.exit_code == 0, more.stderr
    outcome = json.loads(more.stdout)
    assert outcome["done"] == 6 and outcome["cached_turns"] == 3 * 2  # epoch 0: two turns each
    assert set(submitted.values()) == {1} and len(submitted) == 2 * 6
