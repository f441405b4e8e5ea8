"""Running a planned run (`conflicts.run.plan`): execute what is not yet finished.

Finished transcripts are skipped and failed ones retried, so running the same command again, or
resuming the run by id, continues it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from conflicts.providers.registry import Provider, close_all, make_provider
from conflicts.providers.retry import DEFAULT_POLICY, AdaptiveLimit, RetryPolicy, call_with_retries
from conflicts.run.prices import PriceTable, load_prices, require_prices
from conflicts.run.response_cache import ResponseCache, request_key
from conflicts.run.tool_environment import Environment
from conflicts.scenarios.dilemma import Dilemma, Message
from conflicts.store.database import RunInfo, Store
from conflicts.store.run_defaults import MAX_TURNS
from conflicts.store.run_settings import RunSettings, settings_of
from conflicts.store.transcript import Cut, StopReason, Transcript, Turn, Usage

Job = tuple[Dilemma, str, int]
ANSWERED: Literal["answered"] = "answered"  # wakes the writer to commit a new cached answer
PAGE = 500
BACKLOG = 256  # results waiting for the writer before a worker steps aside for it


@dataclass
class Outcome:
    run_id: str
    planned: int
    skipped: int
    done: int = 0
    failed: list[tuple[str, str, int, str]] = field(default_factory=list)
    cut: Counter[str] = field(default_factory=Counter)  # finished, ended by the provider: why
    cached_turns: int = 0
    spent: float = 0.0
    stopped: bool = False


def _pages(store: Store, run_id: str) -> Iterator[Dilemma]:
    """A run's dilemmas a page at a time, so no read cursor stays open across writes."""
    last = -1
    while True:
        rows = store.db.execute(
            "SELECT r.position, d.body FROM run_dilemmas r JOIN dilemmas d ON d.id = r.dilemma_id"
            " WHERE r.run_id = ? AND r.position > ? ORDER BY r.position LIMIT ?",
            (run_id, last, PAGE),
        ).fetchall()
        if not rows:
            return
        for position, body in rows:
            last = position
            yield Dilemma.model_validate_json(body)


def pending_jobs(store: Store, run: RunInfo) -> tuple[int, Iterator[Job]]:
    """How many transcripts remain, and a stream of them."""
    finished = store.finished(run.id)
    jobs = (
        (dilemma, model, epoch)
        for dilemma in _pages(store, run.id)
        for model in run.models
        for epoch in range(run.epochs)
        if (dilemma.id, model, epoch) not in finished
    )
    return run.planned - len(finished), jobs


Ask = Callable[[list[Message]], Awaitable[Turn]]


def asker(
    provider: Provider,
    dilemma: Dilemma,
    epoch: int,
    limit: AdaptiveLimit | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    cache: ResponseCache | None = None,
) -> Ask:
    """One turn of the conversation: from the cache if it has it, else a call under the model's
    limit and retry policy."""
    fingerprint = provider.fingerprint() if cache is not None else None

    async def call(conversation: list[Message]) -> Turn:
        if limit is None:
            return await provider.turn(dilemma, conversation, epoch)
        return await call_with_retries(
            lambda: provider.turn(dilemma, conversation, epoch), limit, policy
        )

    async def ask(conversation: list[Message]) -> Turn:
        if cache is None or fingerprint is None:
            return await call(conversation)
        key = request_key(fingerprint, conversation, dilemma.tools, epoch)
        turn = cache.get(key)
        if turn is None:
            turn = await call(conversation)
            cache.put(key, provider.model, turn)
        return turn

    return ask


@dataclass
class Exchange:
    """What the model added to a dilemma, with its tokens and those it actually paid for."""

    messages: list[Message]
    usage: Usage
    spent: Usage
    reasoning: str | None
    stop: StopReason


async def converse(ask: Ask, dilemma: Dilemma, max_turns: int) -> Exchange:
    """The tool loop: each call is answered from the family's script, until the model answers
    without calling a tool or the turn limit is reached."""
    environment = Environment(dilemma)
    conversation = list(dilemma.messages)
    usage, spent = Usage(), Usage()
    reasoning: list[str] = []
    stop: StopReason = "turn_limit"
    for _ in range(max_turns):
        turn = await ask(conversation)
        usage = usage.plus(turn.usage)
        if not turn.cached:
            spent = spent.plus(turn.usage)
        if turn.reasoning:
            reasoning.append(turn.reasoning)
        conversation.append(turn.message)
        if not turn.message.tool_calls:
            stop = turn.cut or "answered"
            break
        for call in turn.message.tool_calls:
            result = environment.call(call.name, call.arguments)
            conversation.append(
                Message(role="tool", content=result, tool_call_id=call.id, name=call.name)
            )
    added = conversation[len(dilemma.messages) :]
    return Exchange(added, usage, spent, "\n\n".join(reasoning) or None, stop)


@dataclass
class Session:
    """What every transcript of one execution shares."""

    run_id: str
    max_turns: int = MAX_TURNS
    policy: RetryPolicy = DEFAULT_POLICY
    cache: ResponseCache | None = None
    prices: PriceTable | None = None
    limits: dict[str, AdaptiveLimit] = field(default_factory=dict)


async def _attempt(provider: Provider, job: Job, session: Session) -> Transcript:
    dilemma, model, epoch = job
    started = time.perf_counter()
    base = {"run_id": session.run_id, "dilemma_id": dilemma.id, "model": model, "epoch": epoch}
    try:
        ask = asker(
            provider, dilemma, epoch, session.limits.get(model), session.policy, session.cache
        )
        exchange = await converse(ask, dilemma, session.max_turns)
    except Exception as exc:  # a failed call is data: it is stored and retried on resume
        latency = (time.perf_counter() - started) * 1000
        return Transcript(
            **base, status="error", error=f"{type(exc).__name__}: {exc}", latency_ms=latency
        )
    answer = next((m.content for m in reversed(exchange.messages) if m.role == "assistant"), "")
    cost = session.prices.cost(model, exchange.spent) if session.prices else None
    return Transcript(
        **base,
        messages=exchange.messages,
        final_answer=answer,
        reasoning=exchange.reasoning,
        usage=exchange.usage,
        stop_reason=exchange.stop,
        cost_usd=cost,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def _tally(outcome: Outcome, transcript: Transcript) -> None:
    if transcript.status == "ok":
        outcome.done += 1
        stop = transcript.stop_reason
        if stop is not None and stop in get_args(Cut):
            outcome.cut[stop] += 1
    else:
        key = (transcript.dilemma_id, transcript.model, transcript.epoch, transcript.error or "")
        outcome.failed.append(key)


async def execute(
    store: Store,
    run: RunInfo,
    max_connections: int = 8,
    on_result: Callable[[Transcript], None] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    use_cache: bool = True,
    prices: PriceTable | None = None,
    max_cost: float | None = None,
) -> Outcome:
    """Run every unfinished (dilemma, model, epoch); each result is committed as it arrives.

    Answers are cached in the store; `use_cache=False` (`--no-cache`) makes every call afresh.
    Once the run has cost `max_cost` dollars, no new transcript starts; those under way finish."""
    prices = prices or load_prices()
    if max_cost is not None:
        require_prices(prices, run.models)
    cache = ResponseCache(store, read=use_cache)
    session = Session(
        run_id=run.id,
        max_turns=_max_turns(run.params),
        policy=policy,
        cache=cache,
        prices=prices,
        limits={m: AdaptiveLimit(max_connections) for m in run.models},
    )
    remaining, jobs = pending_jobs(store, run)
    providers = {m: make_provider(m, run.params) for m in run.models} if remaining else {}
    outcome = Outcome(
        run.id, planned=run.planned, skipped=run.planned - remaining, spent=store.run_cost(run.id)
    )
    results: asyncio.Queue[Transcript | Literal["answered"] | None] = asyncio.Queue()
    cache.on_put = lambda: results.put_nowait(ANSWERED)  # paid-for answers reach the disk soon

    async def worker() -> None:
        for job in jobs:
            if outcome.stopped:
                return
            await results.put(await _attempt(providers[job[1]], job, session))
            if results.qsize() >= BACKLOG:
                # A provider that never waits (the simulated personas) never lets the writer in:
                # nothing would be stored before the end, and Ctrl-C would go unheard.
                await asyncio.sleep(0)

    def write(batch: list[Transcript]) -> None:
        try:
            with store.transaction():
                store.insert_transcripts(batch)
                cache.write()
        except BaseException:  # a full disk, a read-only store: start nothing more to lose
            outcome.stopped = True
            raise
        for transcript in batch:
            _tally(outcome, transcript)
            outcome.spent += transcript.cost_usd or 0.0
            if on_result is not None:
                on_result(transcript)
        if max_cost is not None and outcome.spent >= max_cost:
            outcome.stopped = True

    async def writer() -> None:
        """Commit whatever has finished (transcripts, and answers to conversations still going),
        one transaction per wake-up, until the sentinel."""
        while True:
            item = await results.get()
            batch: list[Transcript] = []
            while item is not None:
                if isinstance(item, Transcript):
                    batch.append(item)
                if results.empty():
                    break
                item = results.get_nowait()
            write(batch)
            if item is None:
                return

    writing = asyncio.create_task(writer())
    count = min(max_connections * len(run.models), remaining)  # no idle tasks for a short run
    workers = [asyncio.create_task(worker()) for _ in range(count)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await results.put(None)
        try:
            await writing  # its last wake-up writes what is left, answers included
        finally:
            await close_all(providers.values())
    outcome.cached_turns = cache.hits
    return outcome


def _max_turns(params: dict[str, Any]) -> int:
    """The run's turn limit; an imported run asked no model anything and has none of its own."""
    settings = settings_of(params)
    return settings.max_turns if isinstance(settings, RunSettings) else MAX_TURNS
