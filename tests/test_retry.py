import asyncio
import random

import pytest

from conflicts.providers.retry import AdaptiveLimit, ProviderError, RetryPolicy, call_with_retries

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def failing(errors: list[ProviderError], value: str = "ok"):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    async def call() -> str:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return value

    return call, calls


def test_retryable_errors_are_retried_until_success() -> None:
    errors = [
        ProviderError("reset", retryable=True),
        ProviderError("500", retryable=True, status=500),
    ]
    call, calls = failing(errors)
    assert run(call_with_retries(call, AdaptiveLimit(2), FAST)) == "ok"
    assert calls["n"] == 3


def test_client_errors_fail_fast() -> None:
    call, calls = failing([ProviderError("bad request", retryable=False, status=400)])
    with pytest.raises(ProviderError, match="bad request"):
        run(call_with_retries(call, AdaptiveLimit(2), FAST))
    assert calls["n"] == 1


def test_attempts_are_bounded() -> None:
    call, calls = failing([ProviderError("503", retryable=True, status=503) for _ in range(10)])
    with pytest.raises(ProviderError, match="503"):
        run(call_with_retries(call, AdaptiveLimit(2), FAST))
    assert calls["n"] == FAST.attempts


def test_retry_after_is_honoured_and_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=8.0)
    rng = random.Random(0)
    assert policy.delay(1, ProviderError("429", retryable=True, retry_after=3.0), rng) == 3.0
    delays = [policy.delay(n, ProviderError("x", retryable=True), rng) for n in range(1, 9)]
    assert all(0 <= d <= min(8.0, 2 ** (n - 1)) for n, d in enumerate(delays, 1))
    assert len(set(delays)) == len(delays)


def test_limit_halves_on_429_and_regrows() -> None:
    limit = AdaptiveLimit(8)

    async def scenario() -> list[int]:
        seen = []
        for _ in range(2):
            await limit.acquire()
            limit.release(throttled=True)
            seen.append(limit.limit)
        for _ in range(2 + 3):
            await limit.acquire()
            limit.release(succeeded=True)
        seen.append(limit.limit)
        return seen

    assert run(scenario()) == [4, 2, 4]


def test_limit_bounds_calls_in_flight() -> None:
    limit = AdaptiveLimit(3)
    state = {"now": 0, "peak": 0}

    async def call() -> None:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.001)
        state["now"] -= 1

    async def scenario() -> None:
        await asyncio.gather(*(call_with_retries(call, limit, FAST) for _ in range(20)))

    run(scenario())
    assert state["peak"] == 3 and limit.active == 0
