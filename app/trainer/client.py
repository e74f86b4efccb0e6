"""HTTP client for the Pasture service's training-run and evaluation APIs (stdlib `urllib` only).

The contract, as the worker uses it. Every request carries `Authorization: Bearer <token>` when a token
is configured; request and response bodies are JSON unless noted.

    POST /api/v1/training-runs/claim
        {"worker_id": str, "lease_seconds": int}
        200 {"run": RUN}    204 when no run is queued
        RUN = {"id": int, "export_id": int, "base_model": str, "method": "lora" | "full",
               "hyperparameters": {TrainConfig field: value, ...}, "prompt_template": str | null,
               "merge": bool, "attempt": int}

    GET /api/v1/exports/{export_id}
        200 {"id": int, "sha256": str, "validation_sha256": str | null, "record_count": int,
             "validation_count": int | null, "manifest": {...}}
    GET /api/v1/exports/{export_id}.jsonl              200 training JSONL bytes (Alpaca shape)
    GET /api/v1/exports/{export_id}/validation.jsonl   200 validation JSONL bytes

    POST /api/v1/training-runs/{id}/heartbeat
        {"worker_id": str, "progress": {...}, "lease_seconds": int}
        200 {"status": "running" | "cancelled"}    409 the lease was lost: stop, report nothing
        `progress` is {} when nothing new happened since the last heartbeat (downloading, loading the
        model); otherwise one training point, sent once: {"step", "total_steps", "epoch", "loss",
        "eval_loss", "learning_rate", "tokens_per_second", "eta_seconds", "gpu_memory_mb"} (null where
        unknown; `loss` at logging steps, `eval_loss` after an evaluation, both when they share a step).
        `lease_seconds` repeats the claim's lease so each heartbeat extends it by as much. Any status other
        than "running" stops training like "cancelled".

    POST /api/v1/training-runs/{id}/complete
        {"worker_id": str, "status": "succeeded" | "failed", "reason": str | null,
         "metrics": {"train_loss": float | null, "eval_loss": float | null, ...},
         "artifacts": {"output_dir": str, "files": [str, ...]}}
        200 (204 is accepted too)    409 the lease was lost

Answering an evaluation with a trained model (`pasture-worker answer`):

    GET  /api/v1/evaluations/{id}
        200 {"id": int, "status": str, "question_set": str, "candidate": str, "baseline": str, ...}
    GET  /api/v1/models/{name}
        200 {"name": str, "model": str, "answered_by": "endpoint" | "worker", ...}
    GET  /api/v1/question-sets/{name}
        200 {"questions": [{"question_id": str, "turns": [str, ...], ...}, ...]}
    GET  /api/v1/evaluations/{id}/answers?role=candidate|baseline&limit=1000&cursor=...
        200 {"items": [{"question_id": str, ...}, ...], "next_cursor": str | null}
    POST /api/v1/evaluations/{id}/answers
        {"answers": [{"question_id": str, "model_name": str, "answer": [str, ...]}, ...]}
        200 {"stored": int, "already_stored": [str, ...], "missing": {model_name: int}, "status": str}

Transient failures (connection refused or reset, timeouts, HTTP 429 and 5xx) are retried with jittered
exponential backoff that honours `Retry-After`; anything else raises `ServiceError` with the service's
`{"error", "detail"}` message when it sent one.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

USER_AGENT = "pasture-worker/0.1"
_CHUNK = 1 << 20


class ServiceError(Exception):
    """The service refused a request, or answered in a way that breaks the contract."""


class ServiceUnavailable(ServiceError):
    """The service could not be reached, or kept failing, after every retry."""


class LeaseLost(ServiceError):
    """The service gave the run to someone else (HTTP 409): stop without reporting."""


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures."""

    attempts: int = 5
    initial_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class ClaimedRun:
    id: int
    export_id: int
    base_model: str
    method: str
    hyperparameters: dict[str, Any]
    prompt_template: str | None
    merge: bool
    attempt: int

    @classmethod
    def from_json(cls, data: Any) -> ClaimedRun:
        run = _require_object(data, "claim response")
        run = _require_object(run.get("run"), "claim response's run")
        try:
            return cls(
                id=_typed(run, "id", int),
                export_id=_typed(run, "export_id", int),
                base_model=_typed(run, "base_model", str),
                method=_typed(run, "method", str),
                hyperparameters=_typed(run, "hyperparameters", dict, default={}),
                prompt_template=_typed(run, "prompt_template", str, default=None),
                merge=_typed(run, "merge", bool, default=False),
                attempt=_typed(run, "attempt", int, default=1),
            )
        except (KeyError, TypeError) as error:
            raise ServiceError(f"malformed claimed run: {error}") from error


@dataclass(frozen=True)
class ExportInfo:
    id: int
    sha256: str
    validation_sha256: str | None
    record_count: int
    validation_count: int | None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def has_validation(self) -> bool:
        return self.validation_sha256 is not None and (
            self.validation_count is None or self.validation_count > 0
        )

    @classmethod
    def from_json(cls, data: Any) -> ExportInfo:
        export = _require_object(data, "export")
        try:
            return cls(
                id=_typed(export, "id", int),
                sha256=_typed(export, "sha256", str).lower(),
                validation_sha256=_lower(_typed(export, "validation_sha256", str, default=None)),
                record_count=_typed(export, "record_count", int),
                validation_count=_typed(export, "validation_count", int, default=None),
                manifest=_typed(export, "manifest", dict, default={}),
            )
        except (KeyError, TypeError) as error:
            raise ServiceError(f"malformed export: {error}") from error


@dataclass(frozen=True)
class EvaluationInfo:
    id: int
    status: str
    question_set: str
    candidate: str
    baseline: str

    @classmethod
    def from_json(cls, data: Any) -> EvaluationInfo:
        evaluation = _require_object(data, "evaluation")
        try:
            return cls(**{key: _typed(evaluation, key, kind) for key, kind in _EVALUATION_FIELDS.items()})
        except (KeyError, TypeError) as error:
            raise ServiceError(f"malformed evaluation: {error}") from error


_EVALUATION_FIELDS = {"id": int, "status": str, "question_set": str, "candidate": str, "baseline": str}


@dataclass(frozen=True)
class EvaluationQuestion:
    question_id: str
    turns: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Any) -> EvaluationQuestion:
        question = _require_object(data, "question")
        try:
            turns = _typed(question, "turns", list)
            if not turns or not all(isinstance(turn, str) for turn in turns):
                raise TypeError(f"'turns' should be a non-empty list of strings, got {turns!r}")
            return cls(question_id=_typed(question, "question_id", str), turns=tuple(turns))
        except (KeyError, TypeError) as error:
            raise ServiceError(f"malformed question: {error}") from error


@dataclass(frozen=True)
class PostedAnswers:
    """What the service made of the answers posted: the evaluation's status after the last batch."""

    stored: int
    already_stored: int
    missing: dict[str, int]
    status: str


class ServiceClient:
    """The worker's side of the training-run API. Safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        worker_id: str,
        token: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ServiceError(f"server URL must start with http:// or https://, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.worker_id = worker_id
        self.token = token
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def claim(self, lease_seconds: int) -> ClaimedRun | None:
        """Take the next queued run, or None when nothing is queued."""
        status, body = self._request(
            "POST",
            "/api/v1/training-runs/claim",
            {"worker_id": self.worker_id, "lease_seconds": lease_seconds},
            accept=(200, 204),
        )
        return None if status == 204 else ClaimedRun.from_json(body)

    def get_export(self, export_id: int) -> ExportInfo:
        _, body = self._request("GET", f"/api/v1/exports/{export_id}")
        return ExportInfo.from_json(body)

    def download_export(self, export_id: int, destination: Path) -> str:
        """Save the training JSONL to `destination`; returns the sha256 of the bytes received."""
        return self._download(f"/api/v1/exports/{export_id}.jsonl", destination)

    def download_validation(self, export_id: int, destination: Path) -> str:
        """Save the validation JSONL to `destination`; returns the sha256 of the bytes received."""
        return self._download(f"/api/v1/exports/{export_id}/validation.jsonl", destination)

    def heartbeat(
        self, run_id: int, progress: dict[str, Any], lease_seconds: int, retry: RetryPolicy | None = None
    ) -> str:
        """Extend the lease and send progress; returns the run's status ("running" unless it should stop).

        Raises `LeaseLost` on 409.
        """
        _, body = self._request(
            "POST",
            f"/api/v1/training-runs/{run_id}/heartbeat",
            {"worker_id": self.worker_id, "progress": progress, "lease_seconds": lease_seconds},
            retry=retry,
        )
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str):
            raise ServiceError(f"heartbeat answered without a status: {body!r}")
        return status

    def complete(
        self,
        run_id: int,
        *,
        status: Literal["succeeded", "failed"],
        reason: str | None,
        metrics: dict[str, Any],
        artifacts: dict[str, Any],
    ) -> None:
        """Report the run's outcome; raises `LeaseLost` on 409."""
        self._request(
            "POST",
            f"/api/v1/training-runs/{run_id}/complete",
            {
                "worker_id": self.worker_id,
                "status": status,
                "reason": reason,
                "metrics": metrics,
                "artifacts": artifacts,
            },
            accept=(200, 204),
        )

    # Evaluations answered by a worker.

    def get_evaluation(self, evaluation_id: int) -> EvaluationInfo:
        _, body = self._request("GET", f"/api/v1/evaluations/{evaluation_id}")
        return EvaluationInfo.from_json(body)

    def get_model_answered_by(self, name: str) -> str:
        """Who answers for the registered model `name`: "endpoint" or "worker"."""
        _, body = self._request("GET", f"/api/v1/models/{quote(name, safe='')}")
        try:
            answered_by: str = _typed(_require_object(body, "model"), "answered_by", str)
        except (KeyError, TypeError) as error:
            raise ServiceError(f"malformed model: {error}") from error
        return answered_by

    def get_questions(self, question_set: str) -> list[EvaluationQuestion]:
        _, body = self._request("GET", f"/api/v1/question-sets/{quote(question_set, safe='')}")
        questions = _require_object(body, "question set").get("questions")
        if not isinstance(questions, list):
            raise ServiceError("question set has no list of questions")
        return [EvaluationQuestion.from_json(question) for question in questions]

    def answered_question_ids(self, evaluation_id: int, role: Literal["candidate", "baseline"]) -> set[str]:
        """The ids of the questions the evaluation already holds an answer to for `role`."""
        answered: set[str] = set()
        cursor: str | None = None
        while True:
            query = {"role": role, "limit": 1000} | ({"cursor": cursor} if cursor else {})
            _, body = self._request("GET", f"/api/v1/evaluations/{evaluation_id}/answers?{urlencode(query)}")
            page = _require_object(body, "answers page")
            items = page.get("items")
            if not isinstance(items, list):
                raise ServiceError("answers page has no list of items")
            answered.update(str(_require_object(item, "answer").get("question_id")) for item in items)
            cursor = page.get("next_cursor")
            if not cursor:
                return answered

    def post_answers(
        self, evaluation_id: int, answers: list[dict[str, Any]], batch_size: int = 16
    ) -> PostedAnswers:
        """Post `answers` (`{"question_id", "model_name", "answer"}` items) `batch_size` at a time.

        Retrying a batch is safe: the service keeps an answer it already holds and lists it as already
        stored.
        """
        if not answers:
            raise ValueError("no answers to post")
        stored = already = 0
        body: Any = None
        for start in range(0, len(answers), batch_size):
            batch = answers[start : start + batch_size]
            _, body = self._request(
                "POST", f"/api/v1/evaluations/{evaluation_id}/answers", {"answers": batch}
            )
            result = _require_object(body, "answers posted")
            stored += int(result.get("stored", 0))
            already += len(result.get("already_stored") or [])
        result = _require_object(body, "answers posted")
        return PostedAnswers(
            stored=stored,
            already_stored=already,
            missing=dict(result.get("missing") or {}),
            status=str(result.get("status", "")),
        )

    # Transport.

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if has_body:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _request(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        accept: tuple[int, ...] = (200,),
        retry: RetryPolicy | None = None,
    ) -> tuple[int, Any]:
        data = None if payload is None else json.dumps(_json_safe(payload), allow_nan=False).encode("utf-8")

        def attempt() -> tuple[int, Any]:
            request = urllib.request.Request(
                self.base_url + path, data=data, method=method, headers=self._headers(data is not None)
            )
            with self._open(request, method, path) as response:
                status = response.status
                raw = response.read()
            if status not in accept:
                raise ServiceError(f"{method} {path} answered HTTP {status}, expected {accept}")
            if status == 204 or not raw:
                return status, None
            try:
                return status, json.loads(raw)
            except json.JSONDecodeError as error:
                raise ServiceError(f"{method} {path} answered invalid JSON: {error}") from error

        return self._with_retries(attempt, f"{method} {path}", retry or self.retry)

    def _download(self, path: str, destination: Path) -> str:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")

        def attempt() -> str:
            digest = hashlib.sha256()
            request = urllib.request.Request(self.base_url + path, method="GET", headers=self._headers(False))
            with self._open(request, "GET", path) as response, partial.open("wb") as handle:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    handle.write(chunk)
            os.replace(partial, destination)
            return digest.hexdigest()

        return self._with_retries(attempt, f"GET {path}", self.retry)

    def _open(self, request: urllib.request.Request, method: str, path: str) -> http.client.HTTPResponse:
        """Open a request, sorting failures into transient (`_Transient`) and final (`ServiceError`)."""
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=self.timeout)
            return response
        except urllib.error.HTTPError as error:
            status = error.code
            detail = _error_detail(error)
            if status == 429 or status >= 500:
                raise _Transient(f"HTTP {status}{detail}", _retry_after(error)) from error
            if status == 409:
                raise LeaseLost(
                    f"{method} {path}: the service gave this run to another worker{detail}"
                ) from error
            if status in (401, 403):
                raise ServiceError(
                    f"{method} {path}: the service refused the token (HTTP {status}){detail}"
                ) from error
            raise ServiceError(f"{method} {path} failed with HTTP {status}{detail}") from error
        except urllib.error.URLError as error:
            raise _Transient(f"cannot reach {self.base_url}: {error.reason}") from error
        except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
            raise _Transient(f"connection to {self.base_url} failed: {error!r}") from error

    def _with_retries(self, attempt: Callable[[], Any], what: str, policy: RetryPolicy) -> Any:
        for number in range(1, policy.attempts + 1):
            try:
                return attempt()
            except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
                failure = _Transient(f"connection to {self.base_url} failed while reading: {error!r}")
            except _Transient as error:
                failure = error
            if number == policy.attempts:
                raise ServiceUnavailable(f"{what} failed after {number} attempts: {failure}") from failure
            self._sleep(policy.delay(number, failure.retry_after))
        raise AssertionError("unreachable")


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"null")
    except (json.JSONDecodeError, OSError, ValueError):
        return ""
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("error", "detail") if body.get(key)]
        if parts:
            return ": " + " - ".join(parts)
    return ""


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity; send null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ServiceError(f"{what} is not a JSON object")
    return value


_MISSING = object()


def _typed(data: dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    if key not in data or data[key] is None:
        if default is _MISSING:
            raise KeyError(f"{key!r} is missing")
        return default
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{key!r} should be {kind.__name__}, got {value!r}")
    return value


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None
