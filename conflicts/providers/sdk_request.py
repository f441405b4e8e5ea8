"""What the SDK-backed providers share: one POST through the official client, its answer read as
plain JSON, and SDK exceptions as ProviderErrors (retryable or not, Retry-After read, secrets
scrubbed).

Both official SDKs raise errors with a `status_code` and the HTTP response for status errors, and
status-less errors for connection failures and timeouts; a malformed body surfaces as a ValueError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from conflicts.providers.retry import ProviderError
from conflicts.store.transcript import Turn

RETRYABLE_STATUS = frozenset({408, 409, 429})


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret (an API key a server echoed back) from text we are about to keep."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def provider_error(exc: Exception, secrets: Iterable[str]) -> ProviderError:
    message = scrub(f"{type(exc).__name__}: {exc}", secrets)
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return ProviderError(message, retryable=True)  # connection, timeout, malformed body
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return ProviderError(
        message,
        retryable=status in RETRYABLE_STATUS or status >= 500,
        status=status,
        retry_after=retry_after(headers),
    )


@dataclass
class SDKProvider:
    """A provider whose requests go through an official SDK client (`post`, `base_url`)."""

    model: str
    name: str
    client: Any
    request: dict[str, Any]
    secrets: tuple[str, ...]

    def __post_init__(self) -> None:
        # Given a path, the SDK parses it, then the base URL again to join the two, per request;
        # an absolute URL is parsed once. The join is the SDK's: the path after the base's.
        self.root = str(self.client.base_url).rstrip("/") + "/"

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": str(self.client.base_url), **self.request}

    async def post(
        self,
        path: str,
        body: dict[str, Any],
        sdk_errors: tuple[type[Exception], ...],
        read: Callable[[dict[str, Any]], Turn],
    ) -> Turn:
        """The SDK's own POST: `create()` would first walk every message against its TypedDicts
        and build a typed object graph from the answer, milliseconds a request, where `read`
        needs a few fields of plain JSON."""
        caught: tuple[type[Exception], ...] = (*sdk_errors, ValueError)
        try:
            url = self.root + path.lstrip("/")
            raw = await self.client.post(url, content=orjson.dumps(body), cast_to=bytes)
        except caught as exc:
            raise provider_error(exc, self.secrets) from None
        try:
            return read(orjson.loads(raw))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError(f"malformed response: {exc!r}", retryable=True) from None
