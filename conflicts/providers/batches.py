"""The providers' batch APIs through their official SDKs: Anthropic's Message Batches and
OpenAI's Batch API (a JSONL file uploaded, then a batch over it). Both take requests named by a
`custom_id`, finish within a day, bill at half price, and return each request's result apart:
an answer, an error, or (expired, canceled) none. Compatible services that speak OpenAI's Batch
API take `--base-url`.

A batch is identified here by ihsim's own id before the provider knows it (`metadata` at
OpenAI); `find` looks for a submission a killed process may have made, so it is never sent twice.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import orjson

from conflicts.providers.sdk_request import SDKProvider, scrub

SLACK = timedelta(seconds=2)  # the store's times are to the second, and clocks differ
Outcome = Literal["succeeded", "errored", "expired", "canceled"]


@dataclass(frozen=True)
class Result:
    """One request's result: the response body where it succeeded, else why not."""

    custom_id: str
    outcome: Outcome
    body: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Status:
    """Where a provider's batch is: `ended` once results can be read; counts by state."""

    ended: bool
    counts: dict[str, int]


class BatchAPI(Protocol):
    async def submit(self, ours: str, requests: list[tuple[str, dict[str, Any]]]) -> str:
        """Send (custom_id, request body) pairs as one batch; the provider's batch id."""

    async def status(self, batch_id: str) -> Status: ...

    def results(self, batch_id: str) -> AsyncIterator[Result]: ...

    async def find(self, ours: str, since: datetime, requests: int, known: set[str]) -> str | None:
        """The provider's id of a batch submitted under `ours` at or after `since`, if any,
        never one of the `known` batches this run recorded already."""

    async def cancel(self, batch_id: str) -> None: ...


@dataclass
class AnthropicBatches:
    provider: SDKProvider

    @property
    def client(self) -> Any:
        return self.provider.client.messages.batches

    async def submit(self, ours: str, requests: list[tuple[str, dict[str, Any]]]) -> str:
        batch = await self.client.create(
            requests=[{"custom_id": key, "params": body} for key, body in requests]
        )
        return str(batch.id)

    async def status(self, batch_id: str) -> Status:
        batch = await self.client.retrieve(batch_id)
        return Status(batch.processing_status == "ended", batch.request_counts.model_dump())

    async def results(self, batch_id: str) -> AsyncIterator[Result]:
        secrets = self.provider.secrets
        async for line in await self.client.results(batch_id):
            result = line.result
            if result.type == "succeeded":
                body = result.message.model_dump(mode="json", exclude_none=True)
                yield Result(line.custom_id, "succeeded", body)
            elif result.type == "errored":
                error = result.error.error
                text = scrub(f"{error.type}: {error.message}", secrets)
                yield Result(line.custom_id, "errored", error=text)
            else:
                yield Result(line.custom_id, result.type, error=f"request {result.type}")

    async def find(self, ours: str, since: datetime, requests: int, known: set[str]) -> str | None:
        """Anthropic's batches carry no metadata: the newest batch this run has not recorded,
        created since the submission began (to the second), with as many requests, is taken
        for it (a kill between the two steps leaves one such batch at most)."""
        async for batch in self.client.list(limit=100):
            if batch.created_at < since - SLACK:
                break
            if batch.id in known:
                continue
            counts = batch.request_counts
            total = (
                counts.processing
                + counts.succeeded
                + counts.errored
                + counts.canceled
                + counts.expired
            )
            if total == requests:
                return str(batch.id)
        return None

    async def cancel(self, batch_id: str) -> None:
        await self.client.cancel(batch_id)


ENDPOINT = "/v1/chat/completions"


def openai_result(line: dict[str, Any], secrets: tuple[str, ...]) -> Result:
    """A line of an OpenAI batch's output or error file (vLLM's run-batch writes the same)."""
    response = line.get("response") or {}
    body = response.get("body") or {}
    if response.get("status_code") == 200 and "error" not in body:
        return Result(line["custom_id"], "succeeded", body)
    error = line.get("error") or body.get("error") or {}
    code = error.get("code") or response.get("status_code")
    text = scrub(f"{code}: {error.get('message', '')}", secrets)
    outcome: Outcome = "errored"
    if code == "batch_expired":
        outcome = "expired"
    elif code == "batch_cancelled":
        outcome = "canceled"
    return Result(line["custom_id"], outcome, error=text)


ENDED = ("completed", "failed", "expired", "cancelled")


@dataclass
class OpenAIBatches:
    provider: SDKProvider

    @property
    def client(self) -> Any:
        return self.provider.client

    async def submit(self, ours: str, requests: list[tuple[str, dict[str, Any]]]) -> str:
        lines = b"".join(
            orjson.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body})
            + b"\n"
            for key, body in requests
        )
        upload = await self.client.files.create(
            file=(f"{ours}.jsonl", io.BytesIO(lines)), purpose="batch"
        )
        batch = await self.client.batches.create(
            input_file_id=upload.id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata={"ihsim_batch": ours},
        )
        return str(batch.id)

    async def status(self, batch_id: str) -> Status:
        batch = await self.client.batches.retrieve(batch_id)
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        return Status(batch.status in ENDED, {"status": batch.status, **counts})

    async def results(self, batch_id: str) -> AsyncIterator[Result]:
        """The output file's answers, then the error file's failures; a request in neither
        (a batch that failed validation, expired or was cancelled before reaching it) is one
        the caller finds missing."""
        batch = await self.client.batches.retrieve(batch_id)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self.client.files.content(file_id)
            for raw in content.content.splitlines():
                if raw.strip():
                    yield openai_result(orjson.loads(raw), self.provider.secrets)

    async def find(self, ours: str, since: datetime, requests: int, known: set[str]) -> str | None:
        async for batch in self.client.batches.list(limit=100):
            if batch.created_at < (since - SLACK).timestamp():
                break
            if (batch.metadata or {}).get("ihsim_batch") == ours:
                return str(batch.id)
        return None

    async def cancel(self, batch_id: str) -> None:
        await self.client.batches.cancel(batch_id)


def batch_api(provider: object) -> BatchAPI | None:
    """The batch API of a provider that has one (SDK-backed Anthropic and OpenAI models),
    told by class name so that neither SDK is imported for the other's sake; a judge's, by the
    provider it wraps."""
    provider = getattr(provider, "inner", provider)
    kind = type(provider).__name__
    if kind == "AnthropicProvider" and isinstance(provider, SDKProvider):
        return AnthropicBatches(provider)
    if kind == "OpenAIProvider" and isinstance(provider, SDKProvider):
        return OpenAIBatches(provider)
    return None
