"""Client-side rate limits shared by all of a job's calls: requests and tokens per minute.

Token buckets that refill continuously. A call reserves its estimated tokens before it is sent and
settles the difference once the provider reports the real usage, so the sustained rate tracks the
limit. Providers' ``x-ratelimit-remaining-*`` headers can only tighten the buckets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping


class TokenBucket:
    def __init__(self, per_minute: float) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, amount: float) -> float:
        self._refill()
        amount = min(amount, self.capacity)  # a call bigger than the bucket goes when the bucket is full
        if self.level >= amount:
            return 0.0
        return (amount - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= min(amount, self.capacity)

    def settle(self, delta: float) -> None:
        """Charge (delta > 0) or refund (delta < 0) the difference between estimate and actual."""
        self._refill()
        self.level = min(self.capacity, self.level - delta)

    def tighten(self, remaining: float) -> None:
        self._refill()
        self.level = min(self.level, remaining)


class RateLimiter:
    def __init__(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> None:
        self.requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None
        self._lock = asyncio.Lock()

    async def acquire(self, estimated_tokens: float) -> None:
        # One waiter at a time, so calls go out in order instead of racing for the refill.
        async with self._lock:
            while True:
                wait = 0.0
                if self.requests is not None:
                    wait = max(wait, self.requests.wait_time(1))
                if self.tokens is not None:
                    wait = max(wait, self.tokens.wait_time(estimated_tokens))
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, 5.0))
            if self.requests is not None:
                self.requests.take(1)
            if self.tokens is not None:
                self.tokens.take(estimated_tokens)

    def settle(self, estimated_tokens: float, actual_tokens: float) -> None:
        if self.tokens is not None:
            self.tokens.settle(actual_tokens - min(estimated_tokens, self.tokens.capacity))

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        remaining_tokens = _as_float(headers.get("x-ratelimit-remaining-tokens"))
        remaining_requests = _as_float(headers.get("x-ratelimit-remaining-requests"))
        if remaining_tokens is not None and self.tokens is not None:
            self.tokens.tighten(remaining_tokens)
        if remaining_requests is not None and self.requests is not None:
            self.requests.tighten(remaining_requests)


def _as_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
