"""The teacher: any OpenAI-compatible server through the ``openai`` client, with one owner for retries.

The client is built with ``max_retries=0``; tenacity retries 429, 5xx, timeouts and connection
errors with jittered exponential backoff that honours ``Retry-After``. Other 4xx are never retried:
a bad key or an unknown model fails fast with a message that says what to fix.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)


class TeacherError(Exception):
    """A call that failed for good. ``fatal`` errors fail the whole job (bad key, unknown model)."""

    def __init__(self, message: str, *, fatal: bool = False, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class TeacherReply:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int
    headers: Mapping[str, str] = field(default_factory=dict)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class _WaitHonouringRetryAfter:
    def __init__(self, maximum: float) -> None:
        self.maximum = maximum
        self.fallback = wait_random_exponential(multiplier=0.5, max=maximum)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after_seconds(exc) if exc is not None else None
        if hinted is not None:
            return min(self.maximum, hinted) + 0.05 * state.attempt_number  # small spread, never early
        return float(self.fallback(state))


def describe_failure(exc: BaseException, *, base_url: str, model: str) -> TeacherError:
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return TeacherError(
            f"the teacher at {base_url} rejected the API key ({exc.status_code}): "
            "set OPENAI_API_KEY (or the job's api_key_env variable) to a valid key",
            fatal=True,
        )
    if isinstance(exc, openai.NotFoundError):
        return TeacherError(
            f"the teacher at {base_url} does not know model '{model}' (404): "
            "check the job's model and base_url",
            fatal=True,
        )
    if isinstance(exc, openai.APITimeoutError):
        return TeacherError(f"the teacher at {base_url} did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return TeacherError(f"the teacher at {base_url} is unreachable: {exc.__cause__ or exc}")
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") if isinstance(body.get("message"), str) else str(exc.message)
        return TeacherError(f"the teacher at {base_url} answered {exc.status_code}: {message}")
    return TeacherError(f"teacher call failed: {exc.__class__.__name__}: {exc}")


class Teacher:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        api: str = "chat",
        timeout: float = 120.0,
        max_attempts: int = 6,
        backoff_max: float = 60.0,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api = api
        self.max_attempts = max_attempts
        self.backoff_max = backoff_max
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)

    async def close(self) -> None:
        await self._client.close()

    async def complete(
        self,
        prompt: str,
        *,
        temperature: float,
        top_p: float,
        max_tokens: int,
        call_id: int | None = None,
        on_retry: Callable[[BaseException], Awaitable[None] | None] | None = None,
        messages: Sequence[Mapping[str, str]] | None = None,
    ) -> TeacherReply:
        """One reply for ``prompt``, sent as a single user message (chat) or as the completion prompt.

        ``messages`` (chat API only) sends a whole transcript instead, e.g. a system message and earlier
        turns; ``prompt`` is then not sent.
        """
        if messages is not None and self.api != "chat":
            raise TeacherError("a chat transcript needs the chat API, not 'completions'", fatal=True)
        headers = {"X-Pasture-Call-Id": str(call_id)} if call_id is not None else {}
        attempts = 0
        started = time.monotonic()

        async def before_sleep(state: RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                exc = state.outcome.exception()
                if exc is not None:
                    result = on_retry(exc)
                    if result is not None:
                        await result

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.max_attempts),
            wait=_WaitHonouringRetryAfter(self.backoff_max),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    started = time.monotonic()
                    reply = await self._send(prompt, temperature, top_p, max_tokens, headers, messages)
                    latency = time.monotonic() - started
                    return TeacherReply(
                        text=reply[0],
                        finish_reason=reply[1],
                        prompt_tokens=reply[2],
                        completion_tokens=reply[3],
                        latency_s=latency,
                        attempts=attempts,
                        headers=reply[4],
                    )
        except Exception as exc:
            error = describe_failure(exc, base_url=self.base_url, model=self.model)
            error.attempts = max(attempts, 1)
            raise error from exc
        raise TeacherError("teacher call ended without a reply", attempts=attempts)  # pragma: no cover

    async def _send(
        self,
        prompt: str,
        temperature: float,
        top_p: float,
        max_tokens: int,
        headers: dict[str, str],
        messages: Sequence[Mapping[str, str]] | None = None,
    ) -> tuple[str, str | None, int, int, dict[str, str]]:
        common: dict[str, Any] = {
            "model": self.model,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "extra_headers": headers,
        }
        if self.api == "completions":
            raw = await self._client.completions.with_raw_response.create(prompt=prompt, **common)
            completion = raw.parse()
            choice = completion.choices[0]
            text, finish = choice.text or "", choice.finish_reason
            usage = completion.usage
        else:
            transcript = (
                [dict(m) for m in messages] if messages is not None else [{"role": "user", "content": prompt}]
            )
            raw_chat = await self._client.chat.completions.with_raw_response.create(
                messages=transcript,  # type: ignore[arg-type]
                **common,
            )
            chat = raw_chat.parse()
            chat_choice = chat.choices[0]
            text, finish = chat_choice.message.content or "", chat_choice.finish_reason
            usage = chat.usage
            raw = raw_chat
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        ratelimit = {k.lower(): v for k, v in raw.headers.items() if k.lower().startswith("x-ratelimit-")}
        return text, finish, prompt_tokens, completion_tokens, ratelimit
