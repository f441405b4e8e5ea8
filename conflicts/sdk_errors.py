"""Provider SDK exceptions as ProviderErrors: retryable or not, Retry-After read, secrets scrubbed.

Both official SDKs raise errors with a `status_code` and the HTTP response for status errors, and
status-less errors for connection failures and timeouts; a malformed body surfaces as a ValueError.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime

from conflicts.retry import ProviderError

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
