from __future__ import annotations

import asyncio
import time

from app.generation.ratelimit import RateLimiter, TokenBucket


class TestTokenBucket:
    def test_full_bucket_lets_a_call_through_at_once(self) -> None:
        assert TokenBucket(600).wait_time(100) == 0.0

    def test_empty_bucket_waits_for_the_refill(self) -> None:
        bucket = TokenBucket(600)  # 10 tokens a second
        bucket.take(600)
        assert 4.9 < bucket.wait_time(50) <= 5.0

    def test_a_call_larger_than_the_bucket_goes_when_it_is_full(self) -> None:
        assert TokenBucket(100).wait_time(10_000) == 0.0

    def test_settle_charges_and_refunds(self) -> None:
        bucket = TokenBucket(6000)
        bucket.take(1000)
        bucket.settle(500)  # the call used 500 more than estimated
        assert 4400 < bucket.level < 4600
        bucket.settle(-1000)
        assert bucket.level <= bucket.capacity

    def test_headers_only_tighten(self) -> None:
        limiter = RateLimiter(60, 6000)
        limiter.observe_headers(
            {"x-ratelimit-remaining-tokens": "100", "x-ratelimit-remaining-requests": "2"}
        )
        assert limiter.tokens is not None and limiter.tokens.level <= 100.5
        assert limiter.requests is not None and limiter.requests.level <= 2.5
        limiter.observe_headers({"x-ratelimit-remaining-tokens": "999999"})
        assert limiter.tokens.level <= 101


class TestRateLimiter:
    def test_requests_per_minute_spaces_calls(self) -> None:
        async def scenario() -> float:
            limiter = RateLimiter(requests_per_minute=600, tokens_per_minute=None)  # 10 per second
            assert limiter.requests is not None
            limiter.requests.level = 0
            started = time.monotonic()
            for _ in range(3):
                await limiter.acquire(0)
            return time.monotonic() - started

        assert 0.25 < asyncio.run(scenario()) < 1.0

    def test_no_limits_never_wait(self) -> None:
        async def scenario() -> float:
            limiter = RateLimiter(None, None)
            started = time.monotonic()
            for _ in range(100):
                await limiter.acquire(10_000)
            return time.monotonic() - started

        assert asyncio.run(scenario()) < 0.1
