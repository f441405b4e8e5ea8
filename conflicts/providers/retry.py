"""Retries and adaptive concurrency for provider calls.

A call that fails with a retryable error (429, 5xx, 529 overloaded, a reset connection, a timeout,
a malformed body) is tried again after the server's Retry-After, or after an exponential backoff
with jitter, up to a bounded number of attempts. Other 4xx errors fail at once, and so does a
500 that blames the request and says so twice in the same words (`settled`). While a provider
answers 429, the number of requests in flight halves; each run of successes grows it back by one.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class ProviderError(Exception):
    """A failed provider call, as the runner needs to see it, whatever the SDK."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        return self.status == 429


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0

    def delay(self, attempt: int, error: ProviderError, rng: random.Random) -> float:
        """Retry-After when the server gives one; else exponential backoff with full jitter."""
        if error.retry_after is not None:
            return min(error.retry_after, self.max_delay)
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


DEFAULT_POLICY = RetryPolicy()


class AdaptiveLimit:
    """At most `limit` calls in flight; the limit halves on 429 and regrows by one per full window
    of successes, up to `maximum` (additive increase, multiplicative decrease)."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.active = 0
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.active -= 1
                self._wake()
            else:
                self._waiters.remove(waiter)
            raise

    def release(self, *, throttled: bool = False, succeeded: bool = False) -> None:
        self.active -= 1
        if throttled:
            self.limit = max(1, self.limit // 2)
            self._successes = 0
        elif succeeded and self.limit < self.maximum:
            self._successes += 1
            if self._successes >= self.limit:
                self.limit += 1
                self._successes = 0
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.active < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)


# What a server error says when the request itself is at fault (a validation error, a chat
# template that cannot take a field, a type the server does not expect): the same request will
# be refused the same way however often it is sent. Bare "Internal Server Error" is not here.
_SETTLED = re.compile(
    r"validation|invalid|not supported|unsupported|requires?\b|required|expected|must be"
    r"|template|jinja"
    r"|NoneType|TypeError|ValueError|KeyError|AttributeError",
    re.IGNORECASE,
)


def settled(error: ProviderError) -> bool:
    """A 500 (not a gateway's 502-504, not 529 overloaded) that blames the request."""
    return error.status in (500, 501) and _SETTLED.search(str(error)) is not None


_JITTER = random.Random()  # one for every call: seeding a fresh one costs more than the call's work


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    limit: AdaptiveLimit,
    policy: RetryPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
    on_retry: Callable[[ProviderError], None] | None = None,
) -> T:
    """`call()` under the limit, retried as the policy says; the last error is raised."""
    rng = rng or _JITTER
    previous: str | None = None
    for attempt in range(1, policy.attempts + 1):
        await limit.acquire()
        try:
            result = await call()
        except ProviderError as error:
            limit.release(throttled=error.throttled)
            if not error.retryable or attempt == policy.attempts:
                raise
            if str(error) == previous and settled(error):
                raise ProviderError(
                    f"{error} (the same answer twice: not retried)",
                    retryable=False,
                    status=error.status,
                ) from None
            previous = str(error)
            if on_retry is not None:
                on_retry(error)
            await asyncio.sleep(policy.delay(attempt, error, rng))
            continue
        except BaseException:
            limit.release()
            raise
        limit.release(succeeded=True)
        return result
    raise AssertionError("unreachable: the last attempt returns or raises")
