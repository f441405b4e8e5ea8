"""Running a planned run (`conflicts.run.plan`): execute what is not yet finished.

Finished transcripts are skipped and failed ones retried, so running the same command again, or
resuming the run by id, continues it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from conflicts.providers.registry import Provider, close_all, make_provider
from conflicts.providers.retry import DEFAULT_POLICY, AdaptiveLimit, RetryPolicy, call_with_retries
from conflicts.run.blocks import Blocks, Job, block_count
from conflicts.run.prices import PriceTable, load_prices, require_prices
from conflicts.run.response_cache import ResponseCache, request_key
from conflicts.run.shared_prefix import share_prefixes
from conflicts.run.tool_environment import Environment
from conflicts.scenarios.dilemma import Dilemma, Message
from conflicts.store.database import RunInfo, Store
from conflicts.store.leases import Holder, claim, give_back, keep, release
from conflicts.store.run_defaults import MAX_TURNS
from conflicts.store.run_settings import RunSettings, settings_of
from conflicts.store.transcript import Cut, StopReason, Transcript, Turn, Usage

ANSWERED: Literal["answered"] = "answered"  # wakes the writer to commit a new cached answer
POLL_S = 0.5  # how often a process waiting for another's blocks looks again
BACKLOG = 256  # results waiting for the writer before a worker steps aside for it


@dataclass
class Outcome:
    run_id: str
    planned: int
    skipped: int
    done: int = 0
    failed: list[tuple[str, str, int, str]] = field(default_factory=list)
    cut: Counter[str] = field(default_factory=Counter)  # finished, ended by the provider: why
    by_others: int = 0  # finished meanwhile by another process running the same run
    cached_turns: int = 0
    spent: float = 0.0
    stopped: bool = False
    waiting: int = 0  # requests a batch file left for an engine of one's own to answer


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
    remaining = run.planned - store.transcript_counts(run.id).get("ok", 0)
    providers = {m: make_provider(m, run.params) for m in run.models} if remaining else {}
    share_prefixes(store, run, providers.values())
    outcome = Outcome(
        run.id, planned=run.planned, skipped=run.planned - remaining, spent=store.run_cost(run.id)
    )
    count = min(max_connections * len(run.models), remaining)  # no idle tasks for a short run
    share = Share(store, run, Holder(), Blocks(store, run), asyncio.Queue(maxsize=count))
    results: asyncio.Queue[tuple[Transcript, int] | Literal["answered"] | None] = asyncio.Queue()
    cache.on_put = lambda: results.put_nowait(ANSWERED)  # paid-for answers reach the disk soon
    started_spent = [outcome.spent]  # what finished transcripts cost, written or not yet

    async def worker() -> None:
        while (item := await share.jobs.get()) is not None:
            job, block = item
            if outcome.stopped or (max_cost is not None and started_spent[0] >= max_cost):
                outcome.stopped = True
                return
            transcript = await _attempt(providers[job[1]], job, session)
            started_spent[0] += transcript.cost_usd or 0.0
            await results.put((transcript, block))
            if results.qsize() >= BACKLOG:
                # A provider that never waits (the simulated personas) never lets the writer in:
                # nothing would be stored before the end, and Ctrl-C would go unheard.
                await asyncio.sleep(0)

    def write(batch: list[tuple[Transcript, int]]) -> None:
        try:
            with store.transaction():
                store.insert_transcripts(t for t, _ in batch)
                cache.write()
                share.written([block for _, block in batch])
        except BaseException:  # a full disk, a read-only store: start nothing more to lose
            outcome.stopped = True
            raise
        for transcript, _ in batch:
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
            batch: list[tuple[Transcript, int]] = []
            while item is not None:
                if item != ANSWERED:
                    batch.append(item)
                if results.empty():
                    break
                item = results.get_nowait()
            write(batch)
            if item is None:
                return

    writing = asyncio.create_task(writer())
    workers = [asyncio.create_task(worker()) for _ in range(count)]
    sharing = asyncio.create_task(
        share.produce(len(workers), lambda: outcome.stopped) if remaining else asyncio.sleep(0)
    )
    renewing = asyncio.create_task(keep(store, run.id, share.me))
    crew: asyncio.Future[list[None]] = asyncio.gather(*workers)
    try:
        either: set[asyncio.Future[Any]] = {sharing, crew}
        done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if sharing in done:
            sharing.result()  # a store that failed the producer fails the run, at once
        await crew  # stopped workers leave the producer waiting: it is cancelled below
    finally:
        for task in (*workers, sharing, renewing):
            task.cancel()
        await results.put(None)
        try:
            await writing  # its last wake-up writes what is left, answers included
        finally:
            try:
                share.release()
            finally:
                await close_all(providers.values())
    outcome.cached_turns = cache.hits
    outcome.by_others = (
        store.transcript_counts(run.id).get("ok", 0) - (run.planned - remaining) - outcome.done
    )
    return outcome


@dataclass
class Share:
    """This process's part of a run that other processes may be running too: it takes a block
    of the plan before starting its transcripts, skips blocks others hold, and comes back to
    them once they are released, until every block is done (`conflicts.store.leases`)."""

    store: Store
    run: RunInfo
    me: Holder
    blocks: Blocks
    jobs: asyncio.Queue[tuple[Job, int] | None]
    outstanding: Counter[int] = field(default_factory=Counter)  # started, not yet written

    async def produce(self, workers: int, stopped: Callable[[], bool]) -> None:
        """Feed the workers every pending transcript of every block this process can take."""
        waiting: list[int] = []
        for block in range(block_count(self.run)):
            if stopped():
                break
            if not await self._take(block):
                waiting.append(block)
        while waiting and not stopped():  # blocks another process holds: wait for them
            await asyncio.sleep(POLL_S)
            waiting = [block for block in waiting if not await self._take(block)]
        for _ in range(workers):
            await self.jobs.put(None)

    async def _take(self, block: int) -> bool:
        """Queue the block's pending transcripts if this process may take it."""
        if claim(self.store, self.run.id, block, self.me) is not None:
            return False
        jobs = self.blocks.pending(block)
        self.outstanding[block] += len(jobs)
        if not jobs:
            self._done(block)
        for job in jobs:
            await self.jobs.put((job, block))
        await asyncio.sleep(0)  # the workers start on this block before the next is read
        return True

    def written(self, blocks: list[int]) -> None:
        """Count transcripts written (inside the writer's transaction); a block whose last one
        this is goes back, so a process waiting for it finds it finished."""
        for block in blocks:
            self.outstanding[block] -= 1
            if self.outstanding[block] == 0:
                self._done(block)

    def _done(self, block: int) -> None:
        del self.outstanding[block]
        give_back(self.store, self.run.id, block, self.me)

    def release(self) -> None:
        release(self.store, self.run.id, self.me)


def _max_turns(params: dict[str, Any]) -> int:
    """The run's turn limit; an imported run asked no model anything and has none of its own."""
    settings = settings_of(params)
    return settings.max_turns if isinstance(settings, RunSettings) else MAX_TURNS
