"""Judges by batch (`ihsim classify --batch`): every judge request a run's transcripts need,
sent through the judges' providers' batch APIs at half price, their answers collected into the
response cache; the judging pass that follows (`judges.judge_run`) is then served from the
cache, so its verdicts, votes and checks are exactly those of a live pass. Batches are kept in
the store under the run, as `ihsim run --batch` keeps its own, so a killed pass resumes by
polling what it sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from conflicts.classify.judge_prompt import judge_provider, messages_for, render
from conflicts.errors import ModelError
from conflicts.providers.batches import BatchAPI, batch_api
from conflicts.providers.registry import Provider, close_all
from conflicts.run.batch import MAX_REQUESTS, POLL_S, BatchRun, Request, _by_model
from conflicts.run.prices import PriceTable, load_prices
from conflicts.run.response_cache import request_key
from conflicts.store.database import Store


@dataclass
class JudgeBatches:
    """What a batch pass of judges sent and got."""

    sent: int = 0
    answered: int = 0
    failed: int = 0
    cost: float = 0.0


def _waiting(
    store: Store, run_id: str, providers: dict[str, Provider], use_cache: bool
) -> dict[str, Request]:
    """The judge requests the run's finished transcripts need that the cache cannot answer."""
    dilemma = lru_cache(maxsize=4096)(store.dilemma)
    waiting: dict[str, Request] = {}
    for _, transcript in store.transcripts(run_id):
        if transcript.status != "ok":
            continue
        case = dilemma(transcript.dilemma_id)
        conversation = messages_for(case, render(case, transcript))
        for judge, provider in providers.items():
            key = request_key(provider.fingerprint() or {}, conversation, case.tools, 0)
            if key in waiting:
                continue
            if use_cache:
                row = store.db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    continue
            body = provider.body(case, conversation)  # type: ignore[attr-defined]
            waiting[key] = Request(key, judge, body)
    return waiting


async def batch_judges(
    store: Store,
    run_id: str,
    judges: list[str],
    params: dict[str, object],
    use_cache: bool = True,
    poll_s: float = POLL_S,
    prices: PriceTable | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> JudgeBatches:
    """Send, poll and collect every judge request the run needs, until none is left or each
    that failed has had its tries."""
    providers: dict[str, Provider] = {j: judge_provider(j, params) for j in judges}
    apis: dict[str, BatchAPI] = {}
    try:
        for judge, provider in providers.items():
            api = batch_api(provider)
            if api is None:
                raise ModelError(f"{judge} has no batch API", loc=("judge",))
            apis[judge] = api
        run = store.run(run_id)
        batch = BatchRun(store, run, providers, prices or load_prices(), use_cache, poll_s=poll_s)
        batch.say, batch.label = say, "judge"
        tally = JudgeBatches()
        await batch.recover(apis)
        await batch.wait(apis)
        while True:
            waiting = _waiting(store, run_id, providers, use_cache)
            new = [r for r in waiting.values() if r.key not in batch.exhausted]
            if not new:
                break
            for judge, requests in _by_model(new).items():
                for start in range(0, len(requests), MAX_REQUESTS):
                    await batch.submit(apis[judge], judge, requests[start : start + MAX_REQUESTS])
            tally.sent += len(new)
            say(f"{len(new)} judge requests sent in batches")
            await batch.wait(apis)
        rows = store.db.execute(
            "SELECT state, COUNT(*), COALESCE(SUM(cost_usd), 0) FROM batch_requests"
            " WHERE run_id = ? AND billed = 0 AND batch_id LIKE 'judge-%' GROUP BY state",
            (run_id,),
        ).fetchall()
        for state, count, cost in rows:
            if state == "succeeded":
                tally.answered, tally.cost = count, float(cost)
            elif state == "failed":
                tally.failed = count
        with store.transaction():  # judge answers are no transcript's to bill
            store.db.execute(
                "UPDATE batch_requests SET billed = 1 WHERE run_id = ? AND state = 'succeeded'"
                " AND batch_id LIKE 'judge-%'",
                (run_id,),
            )
        return tally
    finally:
        await close_all(providers.values())
