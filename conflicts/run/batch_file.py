"""Bring your own engine: a run's requests written in OpenAI's batch input format
(`ihsim run --batch-file requests.jsonl`), and a finished batch's output read back
(`--batch-results output.jsonl`), so vLLM's offline `run-batch`, or any service that speaks the
format, can execute the run on hardware of one's own.

One line a request: `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`;
one line a result: `{"custom_id", "response": {"status_code", "body"}, "error"}`, as OpenAI's
Batch API and vLLM's run-batch write them. The custom_id is the request's response-cache key,
so the results can come back in any order, in several files, or partly; agentic dilemmas take a
file per tool turn (each results file read writes the next requests file).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from conflicts.atomic import atomic_file
from conflicts.errors import ArgumentError, DilemmaFileError
from conflicts.providers.batches import ENDPOINT, Result, openai_result
from conflicts.providers.registry import close_all, make_provider
from conflicts.run.batch import BatchRun, Request, Say
from conflicts.run.execute import Outcome
from conflicts.run.prices import PriceTable, load_prices
from conflicts.store.database import RunInfo, Store
from hierarchy.errors import message_of


class OutputResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    status_code: int
    body: dict[str, Any] | None = None  # vLLM's run-batch writes null beside an error


class OutputLine(BaseModel):
    """A line of a batch's output or error file."""

    model_config = ConfigDict(extra="allow")
    custom_id: str
    response: OutputResponse | None = None
    error: dict[str, Any] | None = None


def request_line(request: Request) -> bytes:
    line = {"custom_id": request.key, "method": "POST", "url": ENDPOINT, "body": request.body}
    return orjson.dumps(line) + b"\n"


def read_output(path: Path) -> list[OutputLine]:
    """Every line of a results file, checked; the first bad one is a located input error."""
    if not path.exists():
        raise ArgumentError(f"{path}: no such file", loc=("batch_results",))
    lines: list[OutputLine] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                lines.append(OutputLine.model_validate_json(raw))
            except ValidationError as exc:
                error = exc.errors()[0]
                raise DilemmaFileError(
                    message_of(error), file=str(path), line=number, loc=tuple(error["loc"])
                ) from None
    return lines


async def _results(lines: list[OutputLine], secrets: tuple[str, ...]) -> AsyncIterator[Result]:
    for line in lines:
        yield openai_result(line.model_dump(mode="json"), secrets)


def _check_models(batch: BatchRun) -> None:
    for model, provider in batch.providers.items():
        if type(provider).__name__ != "OpenAIProvider":
            raise ArgumentError(
                f"{model}: batch files are in OpenAI's format, for openai/ and "
                "openai-compatible/ models; use --batch for the provider's own batch API",
                loc=("batch_file",),
            )


async def read_results(batch: BatchRun, path: Path) -> tuple[int, int]:
    """Store the answers a results file holds for requests this run is waiting on, then the
    transcripts they finish; (lines used, lines for no request of this run)."""
    lines = read_output(path)
    waiting = (await batch.replay()).waiting
    mine = [line for line in lines if line.custom_id in waiting]
    if lines and not mine:
        raise ArgumentError(
            f"{path}: none of its {len(lines)} results answers a request this run is waiting "
            "on (another run's file, or one already read?)",
            loc=("batch_results",),
        )
    by_model: dict[str, list[OutputLine]] = {}
    for line in mine:
        by_model.setdefault(waiting[line.custom_id].model, []).append(line)
    for model, model_lines in by_model.items():
        ours = "file-" + uuid.uuid4().hex[:16]
        secrets = getattr(batch.providers[model], "secrets", ())
        await batch.collect(ours, model, _results(model_lines, secrets), register=str(path))
    return len(mine), len(lines) - len(mine)


async def write_requests(batch: BatchRun, path: Path) -> int:
    """Store what the cache already finishes, then write every request still waiting, each
    once, atomically; how many."""
    waiting = (await batch.replay()).waiting
    with atomic_file(path, binary=True) as out:
        for request in waiting.values():
            out.write(request_line(request))
    return len(waiting)


async def file_round(
    store: Store,
    run: RunInfo,
    requests_file: Path | None,
    results_file: Path | None,
    prices: PriceTable | None = None,
    use_cache: bool = True,
    say: Say = lambda line: None,
) -> tuple[Outcome, int]:
    """Read a results file, if given, then write the requests still waiting, if asked;
    (the outcome, requests still waiting)."""
    providers = {m: make_provider(m, run.params) for m in run.models}
    try:
        batch = BatchRun(store, run, providers, prices or load_prices(), use_cache)
        _check_models(batch)
        if results_file is not None:
            used, foreign = await read_results(batch, results_file)
            say(
                f"{results_file}: {used} results read"
                + (f", {foreign} for requests this run is not waiting on" if foreign else "")
            )
        if requests_file is not None:
            waiting = await write_requests(batch, requests_file)
            say(f"{requests_file}: {waiting} requests written, in OpenAI's batch input format")
        else:
            waiting = len((await batch.replay()).waiting)
        return batch.outcome, waiting
    finally:
        await close_all(providers.values())
