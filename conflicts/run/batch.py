"""Batch runs (`ihsim run --batch`): a run's requests sent through the providers' batch APIs,
at half price, in rounds.

Each round replays every unfinished transcript from the response cache. A transcript whose every
turn is answered there finishes and is stored; the others stop at the first request the cache
cannot answer. Those requests, each once, make the round's batches, one or more per model.
Collected answers go into the response cache, so the next round replays one turn further: an
agentic dilemma takes a round per tool turn, and a transcript ends when it answers or meets the
turn limit, exactly as live.

Where the run stands lives in the store only (`batches`, `batch_requests`): a submission is
recorded before the provider is called and its id after, so a process killed anywhere resumes
by polling what it submitted, finds a submission it made but did not record (`BatchAPI.find`),
and never sends a request twice. A request that errs or expires inside a batch is sent again in
the next round, up to MAX_ATTEMPTS times in one invocation, its last error kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from conflicts.errors import ModelError
from conflicts.providers.batches import BatchAPI, Result, batch_api
from conflicts.providers.registry import Provider, close_all, make_provider
from conflicts.run.blocks import Blocks, Job, block_count
from conflicts.run.execute import Outcome, _max_turns, _tally, converse
from conflicts.run.prices import PriceTable, load_prices, require_prices
from conflicts.run.response_cache import request_key
from conflicts.run.shared_prefix import share_prefixes
from conflicts.scenarios.dilemma import Message
from conflicts.store.database import RunInfo, Store, now
from conflicts.store.transcript import Transcript, Turn

MAX_ATTEMPTS = 3  # sends of one request in one invocation before its transcripts fail
MAX_REQUESTS = 10_000  # per batch: well under both providers' limits in count and bytes
POLL_S = 30.0  # between looks at batches in progress; batches take minutes to hours


class Waiting(Exception):
    """A turn the cache cannot answer: the request the next batch must carry."""

    def __init__(self, key: str, body: dict[str, Any]) -> None:
        self.key, self.body = key, body


@dataclass
class Request:
    key: str
    model: str
    body: dict[str, Any]


@dataclass
class Round:
    """What one replay found: requests still to be answered, keyed by their cache key."""

    waiting: dict[str, Request] = field(default_factory=dict)
    finished: int = 0


Say = Callable[[str], None]


@dataclass
class BatchRun:
    """One invocation's batch execution of a run."""

    store: Store
    run: RunInfo
    providers: dict[str, Provider]
    prices: PriceTable
    use_cache: bool = True
    max_cost: float | None = None
    poll_s: float = POLL_S
    say: Say = lambda line: None
    label: str = "ihsim"  # what this kind of pass names its batches: judges' apart from a run's
    outcome: Outcome = field(init=False)
    attempts: Counter[str] = field(default_factory=Counter)
    exhausted: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        done = self.store.transcript_counts(self.run.id).get("ok", 0)
        self.outcome = Outcome(
            self.run.id,
            planned=self.run.planned,
            skipped=done,
            spent=self.store.run_cost(self.run.id),
        )
        self.max_turns = _max_turns(self.run.params)
        self.fingerprints = {m: p.fingerprint() or {} for m, p in self.providers.items()}

    # the rounds

    async def execute(self, apis: dict[str, BatchAPI]) -> Outcome:
        await self.recover(apis)
        number = 0
        while True:
            number += 1
            found = await self.replay()
            in_flight = self.in_flight()
            new = [r for r in found.waiting.values() if r.key not in in_flight]
            if new and self.max_cost is not None and self.spent() >= self.max_cost:
                self.outcome.stopped, new = True, []
            if not new and not self.open_batches():
                return self.outcome
            for model, requests in _by_model(new).items():
                for start in range(0, len(requests), MAX_REQUESTS):
                    await self.submit(apis[model], model, requests[start : start + MAX_REQUESTS])
            self.say(
                f"round {number}: {found.finished} transcripts finished, {len(new)} requests "
                f"sent, {len(self.open_batches())} batches in progress"
            )
            await self.wait(apis)

    async def replay(self) -> Round:
        """Every unfinished transcript, as far as the cache answers it; the finished stored,
        block by block, each billed the batch requests it used first."""
        found = Round()
        ours = self.succeeded()
        blocks = Blocks(self.store, self.run)
        for block in range(block_count(self.run)):
            finished: list[tuple[Transcript, list[str]]] = []
            for job in blocks.pending(block):
                transcript, used = await self.replay_one(job, found, ours)
                if transcript is not None:
                    finished.append((transcript, used))
            if finished:
                self.write(finished)
                found.finished += sum(t.status == "ok" for t, _ in finished)
        return found

    async def replay_one(
        self, job: Job, found: Round, ours: set[str]
    ) -> tuple[Transcript | None, list[str]]:
        dilemma, model, epoch = job
        provider = self.providers[model]
        fingerprint = self.fingerprints[model]
        used: list[str] = []

        async def ask(conversation: list[Message]) -> Turn:
            key = request_key(fingerprint, conversation, dilemma.tools, epoch)
            turn = self.cached(key, ours)
            if turn is None:
                raise Waiting(key, provider.body(dilemma, conversation))  # type: ignore[attr-defined]
            used.append(key)
            return turn

        base = {"run_id": self.run.id, "dilemma_id": dilemma.id, "model": model, "epoch": epoch}
        try:
            exchange = await converse(ask, dilemma, self.max_turns)
        except Waiting as waiting:
            if waiting.key in self.exhausted:
                error = f"batch request failed {MAX_ATTEMPTS} times: {self.exhausted[waiting.key]}"
                return Transcript(**base, status="error", error=error), used
            found.waiting.setdefault(waiting.key, Request(waiting.key, model, waiting.body))
            return None, used
        answer = next((m.content for m in reversed(exchange.messages) if m.role == "assistant"), "")
        transcript = Transcript(
            **base,
            messages=exchange.messages,
            final_answer=answer,
            reasoning=exchange.reasoning,
            usage=exchange.usage,
            stop_reason=exchange.stop,
        )
        # turns answered by an earlier run's cache, counted once, as the live runner counts
        self.outcome.cached_turns += sum(key not in ours for key in used)
        return transcript, used

    def cached(self, key: str, ours: set[str]) -> Turn | None:
        """The answer the store holds; with `--no-cache`, only one this run's batches got."""
        if not self.use_cache and key not in ours:
            return None
        row = self.store.db.execute("SELECT turn FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return Turn.model_validate_json(row[0])

    def write(self, finished: list[tuple[Transcript, list[str]]]) -> None:
        """Store finished transcripts, each with the cost of the batch requests it used that
        no transcript was billed for yet, in one transaction."""
        unbilled = dict(
            self.store.db.execute(
                "SELECT key, cost_usd FROM batch_requests WHERE run_id = ?"
                " AND state = 'succeeded' AND billed = 0",
                (self.run.id,),
            ).fetchall()
        )
        billed: list[str] = []
        priced: list[Transcript] = []
        for transcript, used in finished:
            mine = [k for k in dict.fromkeys(used) if k in unbilled]
            billed.extend(mine)
            costs = [unbilled.pop(k) for k in mine]
            known = self.prices.price(transcript.model) is not None
            cost = None if not known or None in costs else sum(c for c in costs if c)
            priced.append(transcript.model_copy(update={"cost_usd": cost}))
        with self.store.transaction():
            self.store.insert_transcripts(priced)
            self.store.db.executemany(
                "UPDATE batch_requests SET billed = 1 WHERE run_id = ? AND key = ?",
                [(self.run.id, key) for key in billed],
            )
        for transcript in priced:
            _tally(self.outcome, transcript)
            self.outcome.spent += transcript.cost_usd or 0.0

    # the store's view of the batches

    def succeeded(self) -> set[str]:
        rows = self.store.db.execute(
            "SELECT key FROM batch_requests WHERE run_id = ? AND state = 'succeeded'",
            (self.run.id,),
        )
        return {key for (key,) in rows}

    def in_flight(self) -> set[str]:
        rows = self.store.db.execute(
            "SELECT key FROM batch_requests WHERE run_id = ?"
            " AND state IN ('submitting', 'submitted') AND batch_id LIKE ?",
            (self.run.id, f"{self.label}-%"),
        )
        return {key for (key,) in rows}

    def open_batches(self) -> list[tuple[str, str, str | None, str, int]]:
        """(ours, model, provider id, state, requests) of batches not yet collected."""
        return self.store.db.execute(
            "SELECT id, model, provider_id, state, requests FROM batches WHERE run_id = ?"
            " AND state IN ('submitting', 'submitted') AND id LIKE ? ORDER BY created_at",
            (self.run.id, f"{self.label}-%"),
        ).fetchall()

    def spent(self) -> float:
        """What the run has cost: its transcripts, and answers collected not yet billed."""
        row = self.store.db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM batch_requests"
            " WHERE run_id = ? AND state = 'succeeded' AND billed = 0",
            (self.run.id,),
        ).fetchone()
        return self.store.run_cost(self.run.id) + float(row[0])

    # submission, recovery, collection

    async def submit(self, api: BatchAPI, model: str, requests: list[Request]) -> None:
        """Record the submission, send it, record the provider's id: a kill between the
        first and the last leaves a `submitting` batch that `recover` resolves."""
        ours = f"{self.label}-{uuid.uuid4().hex[:16]}"
        with self.store.transaction():
            self._record(ours, model, None, "submitting", [r.key for r in requests])
        provider_id = await api.submit(ours, [(r.key, r.body) for r in requests])
        self.submitted(ours, provider_id)
        for request in requests:
            self.attempts[request.key] += 1

    def submitted(self, ours: str, provider_id: str) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "UPDATE batches SET provider_id = ?, state = 'submitted' WHERE id = ?",
                (provider_id, ours),
            )
            self.store.db.execute(
                "UPDATE batch_requests SET state = 'submitted' WHERE batch_id = ?", (ours,)
            )

    async def recover(self, apis: dict[str, BatchAPI]) -> None:
        """Submissions a killed process began: found at the provider, or, if it never got
        them, forgotten, so their requests go out in the next round."""
        for ours, model, _, state, requests in self.open_batches():
            if state != "submitting":
                continue
            (created,) = self.store.db.execute(
                "SELECT created_at FROM batches WHERE id = ?", (ours,)
            ).fetchone()
            known = {
                provider
                for (provider,) in self.store.db.execute(
                    "SELECT provider_id FROM batches WHERE run_id = ? AND provider_id IS NOT NULL",
                    (self.run.id,),
                )
            }
            found = await apis[model].find(ours, datetime.fromisoformat(created), requests, known)
            if found is not None:
                self.submitted(ours, found)
                continue
            with self.store.transaction():
                self.store.db.execute(
                    "UPDATE batch_requests SET state = 'failed', error = 'never submitted',"
                    " attempts = attempts - 1 WHERE batch_id = ?",
                    (ours,),
                )
                self.store.db.execute(
                    "UPDATE batches SET state = 'abandoned' WHERE id = ?", (ours,)
                )

    async def wait(self, apis: dict[str, BatchAPI]) -> None:
        """Poll the batches in progress until each has ended, collecting each as it does."""
        while pending := [b for b in self.open_batches() if b[3] == "submitted"]:
            counts: Counter[str] = Counter()
            for ours, model, provider_id, _, _ in pending:
                assert provider_id is not None
                status = await apis[model].status(provider_id)
                if status.ended:
                    await self.collect(ours, model, apis[model].results(provider_id))
                else:
                    counts.update({k: v for k, v in status.counts.items() if isinstance(v, int)})
            if self.open_batches():
                states = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if v)
                self.say(f"{len(self.open_batches())} batches in progress ({states or 'queued'})")
                await asyncio.sleep(self.poll_s)

    async def collect(
        self,
        ours: str,
        model: str,
        results: AsyncIterator[Result],
        register: str | None = None,
    ) -> Counter[str]:
        """A finished batch's results into the store in one transaction: answers into the
        response cache, each request's state, cost and error; a request with no result is
        failed. `register`: where a batch no provider ran came from (a results file): it and
        its requests are recorded in the same transaction, so a kill leaves no half of it."""
        provider = self.providers[model]
        rows: list[tuple[Any, ...]] = []
        answers: list[tuple[str, str, str, str]] = []
        tally: Counter[str] = Counter()
        seen: set[str] = set()
        async for result in results:
            seen.add(result.custom_id)
            tally[result.outcome] += 1
            if result.outcome == "succeeded" and result.body is not None:
                try:
                    turn = provider.read(result.body)  # type: ignore[attr-defined]
                except (KeyError, IndexError, TypeError, ValueError) as exc:
                    error = f"malformed result: {exc!r}"
                    rows.append(("failed", error, None, result.custom_id, ours))
                    continue
                cost = self.prices.cost(model, turn.usage, batch=True)
                answers.append((result.custom_id, model, turn.model_dump_json(), now()))
                rows.append(("succeeded", None, cost, result.custom_id, ours))
            else:
                error = result.error or result.outcome
                rows.append(("failed", error, None, result.custom_id, ours))
        expected = (
            seen
            if register is not None
            else {
                key
                for (key,) in self.store.db.execute(
                    "SELECT key FROM batch_requests WHERE batch_id = ?", (ours,)
                )
            }
        )
        for key in expected - seen:
            rows.append(("failed", "no result returned for this request", None, key, ours))
            tally["missing"] += 1
        counts = orjson.dumps(dict(tally)).decode()
        with self.store.transaction():
            if register is not None:
                self._record(ours, model, register, "submitted", sorted(seen))
            self.store.db.executemany(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", answers
            )
            self.store.db.executemany(
                "UPDATE batch_requests SET state = ?, error = COALESCE(?, error), cost_usd = ?"
                " WHERE key = ? AND batch_id = ?",  # a retried request keeps its last error
                rows,
            )
            self.store.db.execute(
                "UPDATE batches SET state = 'collected', ended_at = ?, counts = ? WHERE id = ?",
                (now(), counts, ours),
            )
        for state, error, _, key, _ in rows:
            if state == "failed" and self.attempts[key] >= MAX_ATTEMPTS:
                self.exhausted[key] = error or "failed"
        return tally

    def _record(
        self, ours: str, model: str, provider_id: str | None, state: str, keys: list[str]
    ) -> None:
        """A batch and its requests, in the caller's transaction: a request sent before (and
        failed) counts one more attempt."""
        self.store.db.execute(
            "INSERT INTO batches (id, run_id, model, provider_id, state, requests, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ours, self.run.id, model, provider_id, state, len(keys), now()),
        )
        self.store.db.executemany(
            "INSERT INTO batch_requests (run_id, key, model, batch_id, state, attempts)"
            " VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (run_id, key) DO UPDATE SET"
            " batch_id = excluded.batch_id, state = excluded.state,"
            " attempts = batch_requests.attempts + 1",
            [(self.run.id, key, model, ours, state) for key in keys],
        )


def _by_model(requests: Iterable[Request]) -> dict[str, list[Request]]:
    grouped: dict[str, list[Request]] = defaultdict(list)
    for request in requests:
        grouped[request.model].append(request)
    return grouped


async def execute_batch(
    store: Store,
    run: RunInfo,
    prices: PriceTable | None = None,
    max_cost: float | None = None,
    use_cache: bool = True,
    poll_s: float = POLL_S,
    say: Say = lambda line: None,
) -> Outcome:
    """Run every unfinished transcript through the providers' batch APIs, round by round."""
    prices = prices or load_prices()
    if max_cost is not None:
        require_prices(prices, run.models)
    providers = {m: make_provider(m, run.params) for m in run.models}
    share_prefixes(store, run, providers.values())
    try:
        apis: dict[str, BatchAPI] = {}
        for model, provider in providers.items():
            api = batch_api(provider)
            if api is None:
                raise ModelError(
                    f"{model} has no batch API: --batch takes anthropic/, openai/ and "
                    "openai-compatible/ models (a compatible server must speak OpenAI's Batch "
                    "API; for vLLM's run-batch, use --batch-file)",
                    loc=("model",),
                )
            apis[model] = api
        batch = BatchRun(store, run, providers, prices, use_cache, max_cost, poll_s, say)
        return await batch.execute(apis)
    finally:
        await close_all(providers.values())
