"""The job loop. Jobs are rows: a runner claims one with a lease, runs it, and a crash only costs the
calls that were in flight. Each reply is applied in one transaction (call row, records, job counters),
so a reply is never applied twice and a restart resumes exactly where the database says.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.dedupe import Decision, NearDuplicateIndex, make_index, tokenizer_for_language
from app.generation import repository
from app.generation.filters import FilterPolicy, Reason, build_policy, check_record
from app.generation.languages import Language, get_language
from app.generation.parsing import ParsedRecord, parse_reply
from app.generation.prompts import Example, render_prompt
from app.generation.ratelimit import RateLimiter
from app.generation.teacher import Teacher, TeacherError, TeacherReply
from app.leases import LeaseRunner
from app.models import Job, JobStatus, RecordStatus, TeacherCallStatus

logger = logging.getLogger(__name__)

DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
NEIGHBOURS_STORED = 10


class LeaseLost(Exception):
    pass


@dataclass
class StageTimes:
    """Where the service's CPU goes while applying replies (seconds, summed over calls)."""

    parse: float = 0.0
    filters: float = 0.0
    near_duplicates: float = 0.0
    database: float = 0.0
    replies: int = 0

    def as_dict(self) -> dict[str, float]:
        return {
            "parse": self.parse,
            "filters": self.filters,
            "near_duplicates": self.near_duplicates,
            "database": self.database,
            "replies": self.replies,
        }


def seed_key(seed_task_id: int) -> str:
    return f"seed:{seed_task_id}"


def teacher_for(job: Job, settings: Settings) -> Teacher:
    base_url = job.base_url or settings.openai_base_url or DEFAULT_OPENAI_URL
    if job.api_key_env:
        api_key = os.environ.get(job.api_key_env)
        if not api_key:
            raise TeacherError(
                f"the environment variable {job.api_key_env} (the job's api_key_env) is not set", fatal=True
            )
    elif settings.openai_api_key is not None:
        api_key = settings.openai_api_key.get_secret_value()
    elif base_url == DEFAULT_OPENAI_URL:
        raise TeacherError(
            "OPENAI_API_KEY is not set: export it, or point OPENAI_BASE_URL at your own server", fatal=True
        )
    else:
        api_key = "EMPTY"  # self-hosted servers (vLLM, Ollama, llama.cpp) accept any key
    return Teacher(
        base_url=base_url,
        api_key=api_key,
        model=job.model,
        api=job.api,
        timeout=settings.teacher_timeout,
        max_attempts=settings.teacher_max_attempts,
        backoff_max=settings.teacher_backoff_max,
    )


@dataclass
class _CallTask:
    sent: bool = False
    estimated_cost: float = 0.0


@dataclass
class _Estimates:
    chars_per_token: float = 4.0
    completion_tokens: float = 0.0
    kept_per_call: float = 0.0
    calls_applied: int = 0

    def learn(self, prompt_chars: int, reply: TeacherReply, kept: int) -> None:
        if reply.prompt_tokens > 0:
            ratio = prompt_chars / reply.prompt_tokens
            self.chars_per_token = 0.8 * self.chars_per_token + 0.2 * ratio if self.calls_applied else ratio
        n = self.calls_applied
        self.completion_tokens = (self.completion_tokens * n + reply.completion_tokens) / (n + 1)
        self.kept_per_call = (self.kept_per_call * n + kept) / (n + 1)
        self.calls_applied += 1


@dataclass
class JobExecution:
    job_id: int
    runner_id: str
    session_factory: sessionmaker[Session]
    settings: Settings
    teacher_factory: Callable[[Job, Settings], Teacher] = teacher_for
    times: StageTimes = field(default_factory=StageTimes)
    job: Job = field(init=False)
    language: Language = field(init=False)
    policy: FilterPolicy = field(init=False)
    index: NearDuplicateIndex = field(init=False)
    seeds: list[tuple[int, Example]] = field(init=False, default_factory=list)
    kept_examples: list[tuple[int, Example]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._apply_lock = asyncio.Lock()
        self._stop: str | None = None  # why the loop should stop scheduling
        self._final: tuple[JobStatus, str | None] | None = None
        self._consecutive_failures = 0
        self._barren_replies = 0  # replies in a row that kept nothing
        self._estimates = _Estimates()
        self._tasks: dict[asyncio.Task[None], _CallTask] = {}
        self._call_counter = 0
        self._kept = 0
        self._cost = 0.0

    # -- set-up ---------------------------------------------------------------------------------
    def _prepare(self) -> None:
        with unit_of_work(self.session_factory) as session:
            abandoned = repository.start_job(session, self.job_id, self.runner_id)
            job = session.get(Job, self.job_id)
            assert job is not None
            self.job = job
            seeds = repository.load_seed_tasks(session, job.seed_set_id)
            kept = repository.load_kept(session, self.job_id)
        if abandoned:
            logger.warning(
                "job %s: %d calls were in flight when its last runner stopped", self.job_id, abandoned
            )
        language = get_language(self.job.language)
        assert language is not None
        self.language = language
        self.policy = build_policy(language.code, self.job.filters)
        self.index = make_index(
            threshold=self.job.rouge_threshold, tokenizer=tokenizer_for_language(language.code)
        )
        self.seeds = [(s.id, Example(s.instruction, s.input, s.output)) for s in seeds]
        started = time.monotonic()
        self.index.add_many([(seed_key(i), e.instruction) for i, e in self.seeds])
        self.index.add_many([(r.id, r.instruction) for r in kept])
        self.kept_examples = [(r.id, Example(r.instruction, r.input, r.output)) for r in kept]
        self._call_counter = self.job.requests_sent
        self._kept = self.job.kept
        self._cost = self.job.cost_usd
        logger.info(
            "job %s: index of %d instructions built in %.2fs",
            self.job_id,
            len(self.index),
            time.monotonic() - started,
        )

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        await asyncio.to_thread(self._prepare)
        try:
            teacher = self.teacher_factory(self.job, self.settings)
        except TeacherError as exc:
            await asyncio.to_thread(self._finish, JobStatus.FAILED, exc.message)
            return
        if self._kept >= self.job.target:
            await teacher.close()
            await asyncio.to_thread(self._finish, JobStatus.SUCCEEDED, None)
            return
        self.limiter = RateLimiter(self.job.requests_per_minute, self.job.tokens_per_minute)
        self.teacher = teacher
        last_renewal = time.monotonic()
        try:
            while self._stop is None:
                now = time.monotonic()
                if now - last_renewal >= min(self.settings.poll_seconds, self.settings.lease_seconds / 3):
                    status = await asyncio.to_thread(self._renew, now - last_renewal)
                    last_renewal = now
                    if status is None:
                        raise LeaseLost
                    if status != JobStatus.RUNNING:
                        self._stop = f"status changed to {status}"
                        break
                self._schedule()
                if not self._tasks:
                    if self._stop is None:
                        self._pause_for_budget()
                    break
                await asyncio.wait(
                    list(self._tasks), timeout=self.settings.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                self._reap()
            await self._drain()
            if self._final is not None:
                await asyncio.to_thread(self._finish, *self._final)
        except LeaseLost:
            logger.warning(
                "job %s: lease lost to another runner; stopping without applying more", self.job_id
            )
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            return
        except asyncio.CancelledError:
            # Hand the job back now rather than when the lease runs out.
            await asyncio.shield(asyncio.to_thread(self._release))
            raise
        finally:
            await teacher.close()
        await asyncio.to_thread(self._release)

    def request_stop(self, why: str) -> None:
        """Stop scheduling calls; the loop drains what was sent, then releases the job for a later runner."""
        if self._stop is None:
            self._stop = why

    def _reap(self) -> None:
        for task in [t for t in self._tasks if t.done()]:
            del self._tasks[task]
            if not task.cancelled() and (exc := task.exception()) is not None:
                if isinstance(exc, LeaseLost):
                    raise exc
                logger.exception("job %s: call task crashed", self.job_id, exc_info=exc)
                self._stop = f"internal error: {exc}"
                self._final = (JobStatus.FAILED, f"internal error while applying a reply: {exc}")

    async def _drain(self) -> None:
        """Calls already sent are waited for and recorded (their tokens were billed); unsent ones dropped."""
        for task, state in list(self._tasks.items()):
            if not state.sent:
                task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._reap_quietly()

    def _reap_quietly(self) -> None:
        for task in list(self._tasks):
            if not task.cancelled() and isinstance(task.exception(), LeaseLost):
                raise LeaseLost
        self._tasks.clear()

    # -- scheduling -----------------------------------------------------------------------------
    def _calls_needed(self) -> int:
        remaining = self.job.target - self._kept
        if remaining <= 0:
            return 0
        per_call = (
            self._estimates.kept_per_call if self._estimates.calls_applied else self.job.records_per_request
        )
        # Over-ask slightly near the end: a call that yields nothing costs less than a round trip.
        return math.ceil(remaining / max(per_call, 0.5)) + 1

    def _estimated_call_cost(self, prompt_tokens: float) -> float:
        # Worst case: the reply may use all of max_tokens, and the budget must never be exceeded.
        job = self.job
        return (prompt_tokens * job.price_input_per_mtok + job.max_tokens * job.price_output_per_mtok) / 1e6

    def _budget_allows(self, extra: float) -> bool:
        if self.job.budget_usd is None:
            return True
        reserved = sum(state.estimated_cost for state in self._tasks.values())
        return self._cost + reserved + extra <= self.job.budget_usd + 1e-12

    def _schedule(self) -> None:
        while self._stop is None and len(self._tasks) < min(self.job.concurrency, self._calls_needed()):
            examples, shown = self._sample_examples()
            prompt = render_prompt(
                examples,
                language=self.language,
                total=len(examples) + self.job.records_per_request,
                template_source=self.job.prompt_template,
            )
            estimated_prompt_tokens = len(prompt) / self._estimates.chars_per_token
            cost = self._estimated_call_cost(estimated_prompt_tokens)
            if not self._budget_allows(cost):
                return
            state = _CallTask(estimated_cost=cost)
            task = asyncio.create_task(self._call(prompt, examples, shown, estimated_prompt_tokens, state))
            self._tasks[task] = state

    def _pause_for_budget(self) -> None:
        if self.job.budget_usd is not None and self._kept < self.job.target:
            self._final = (
                JobStatus.PAUSED,
                f"budget_usd {self.job.budget_usd:.4f} would be exceeded by the next call "
                f"(spent {self._cost:.4f}); raise budget_usd and resume",
            )
            self._stop = "budget"

    def _sample_examples(self) -> tuple[list[Example], list[dict[str, object]]]:
        self._call_counter += 1
        rng = random.Random(f"{self.job.seed}:{self.job_id}:{self._call_counter}")
        seeds = rng.sample(self.seeds, min(self.job.examples_per_prompt, len(self.seeds)))
        generated = rng.sample(self.kept_examples, min(self.job.generated_examples, len(self.kept_examples)))
        shown = [{"kind": "seed", "id": i} for i, _ in seeds] + [
            {"kind": "record", "id": i} for i, _ in generated
        ]
        return [e for _, e in seeds] + [e for _, e in generated], shown

    # -- one call -------------------------------------------------------------------------------
    async def _call(
        self,
        prompt: str,
        examples: list[Example],
        shown: list[dict[str, object]],
        estimated_prompt_tokens: float,
        state: _CallTask,
    ) -> None:
        estimated_tokens = estimated_prompt_tokens + (
            self._estimates.completion_tokens or self.job.max_tokens
        )
        await self.limiter.acquire(estimated_tokens)
        if self._stop is not None:
            self.limiter.settle(estimated_tokens, 0)
            return
        # From here the call is committed to: its row and request_sent count are written next, so a stop
        # must wait for it rather than cancel it half-way (which would leave a row for a request never sent).
        state.sent = True
        call_id = await asyncio.to_thread(self._create_call, prompt, shown)
        retries = 0

        def on_retry(exc: BaseException) -> None:
            nonlocal retries
            retries += 1
            logger.info("job %s call %s: retrying after %s", self.job_id, call_id, exc.__class__.__name__)

        try:
            reply = await self.teacher.complete(
                prompt,
                temperature=self.job.temperature,
                top_p=self.job.top_p,
                max_tokens=self.job.max_tokens,
                call_id=call_id,
                on_retry=on_retry,
            )
        except TeacherError as exc:
            self.limiter.settle(estimated_tokens, 0)
            async with self._apply_lock:
                await asyncio.to_thread(self._record_failure, call_id, exc)
            return
        self.limiter.settle(estimated_tokens, reply.prompt_tokens + reply.completion_tokens)
        self.limiter.observe_headers(reply.headers)
        async with self._apply_lock:
            await asyncio.to_thread(self._apply, call_id, prompt, examples, reply)

    def _create_call(self, prompt: str, shown: list[dict[str, object]]) -> int:
        with unit_of_work(self.session_factory) as session:
            if (
                repository.lock_owned_job(session, self.job_id, self.runner_id, self.settings.lease_seconds)
                is None
            ):
                raise LeaseLost
            return repository.create_call(session, self.job_id, self.runner_id, prompt=prompt, examples=shown)

    def _record_failure(self, call_id: int, exc: TeacherError) -> None:
        with unit_of_work(self.session_factory) as session:
            job = repository.lock_owned_job(session, self.job_id, self.runner_id, self.settings.lease_seconds)
            if job is None:
                raise LeaseLost
            call = repository.mark_call_applied(session, call_id)
            if call is None:
                return
            call.status = TeacherCallStatus.FAILED
            call.error = exc.message
            call.attempts = exc.attempts
            job.requests_failed += 1
            job.requests_retried += max(exc.attempts - 1, 0)
        self._consecutive_failures += 1
        logger.warning("job %s call %s failed: %s", self.job_id, call_id, exc.message)
        if exc.fatal or self._consecutive_failures >= self.settings.teacher_max_consecutive_failures:
            self._stop = "teacher failing"
            self._final = (JobStatus.FAILED, exc.message)

    def _apply(self, call_id: int, prompt: str, examples: list[Example], reply: TeacherReply) -> None:
        """Parse, filter and de-duplicate a reply, and store it all in one transaction."""
        started = time.perf_counter()
        parsed = parse_reply(
            reply.text, truncated=reply.finish_reason == "length", first_number=len(examples) + 1
        )
        parse_seconds = time.perf_counter() - started
        self.times.parse += parse_seconds
        self.times.replies += 1
        judged_before = self.times.filters + self.times.near_duplicates
        added_to_index: list[int] = []
        new_examples: list[tuple[int, Example]] = []
        try:
            with unit_of_work(self.session_factory) as session:
                job = repository.lock_owned_job(
                    session, self.job_id, self.runner_id, self.settings.lease_seconds
                )
                if job is None:
                    raise LeaseLost
                call = repository.mark_call_applied(session, call_id)
                if call is None:  # already applied or closed: never apply a reply twice
                    return
                cost = (
                    reply.prompt_tokens * job.price_input_per_mtok
                    + reply.completion_tokens * job.price_output_per_mtok
                ) / 1e6
                call.raw_reply = reply.text
                call.finish_reason = reply.finish_reason
                call.prompt_tokens = reply.prompt_tokens
                call.completion_tokens = reply.completion_tokens
                call.latency_ms = reply.latency_s * 1000
                call.attempts = reply.attempts
                call.cost_usd = cost
                # Ids come first so each kept record enters the index under its real id as it is judged
                # (later candidates of the same reply are checked against it), then one bulk insert.
                ids = repository.allocate_record_ids(session, len(parsed))
                rejections = dict(job.rejections or {})
                kept = job.kept
                rows = []
                for record_id, item in zip(ids, parsed, strict=True):
                    row = self._judge(item, job, call_id, record_id, kept, rejections)
                    rows.append(row)
                    if row["status"] == RecordStatus.KEPT:
                        self.index.add(record_id, item.instruction)
                        added_to_index.append(record_id)
                        new_examples.append((record_id, Example(item.instruction, item.input, item.output)))
                        kept += 1
                repository.insert_records(session, rows)
                job.kept = kept
                job.candidates += len(parsed)
                job.rejections = rejections
                job.prompt_tokens += reply.prompt_tokens
                job.completion_tokens += reply.completion_tokens
                job.cost_usd += cost
                job.requests_retried += max(reply.attempts - 1, 0)
                kept_total, cost_total = job.kept, job.cost_usd
        except BaseException:
            for key in added_to_index:
                self.index.remove(key)
            raise
        judging = self.times.filters + self.times.near_duplicates - judged_before
        # The rest of the apply step: the transaction (reads, inserts, commit) and bookkeeping around it.
        self.times.database += time.perf_counter() - started - parse_seconds - judging
        self._kept, self._cost = kept_total, cost_total
        self.kept_examples.extend(new_examples)
        self._consecutive_failures = 0
        self._estimates.learn(len(prompt), reply, len(new_examples))
        self._barren_replies = 0 if new_examples else self._barren_replies + 1
        limit = self.settings.max_barren_replies
        if limit and self._barren_replies >= limit and kept_total < self.job.target and self._stop is None:
            # A teacher that only repeats itself would spend the whole budget for nothing.
            top = max(rejections.items(), key=lambda item: item[1])[0] if rejections else "none"
            self._stop = "no progress"
            self._final = (
                JobStatus.PAUSED,
                f"the last {limit} replies kept no record (most common rejection: {top}); change the "
                "prompt, temperature, model or rouge_threshold, then resume",
            )
        if kept_total >= self.job.target:
            # Succeeded once the calls still in flight are drained, so the final counts are complete.
            self._stop = "target reached"
            self._final = (JobStatus.SUCCEEDED, None)

    def _judge(
        self,
        item: ParsedRecord,
        job: Job,
        call_id: int,
        record_id: int,
        kept: int,
        rejections: dict[str, int],
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": record_id,
            "job_id": job.id,
            "call_id": call_id,
            "position": item.position,
            "instruction": item.instruction,
            "input": item.input,
            "output": item.output,
            "language": job.language,
            "nearest": [],
            "max_similarity": None,
            "mean_similarity": None,
            "reason": None,
            "reason_detail": None,
        }
        reason: str | None = None
        detail: str | None = None
        if item.problem is not None:
            reason, detail = item.problem, item.detail
        else:
            started = time.perf_counter()
            verdict = check_record(item, self.policy, self.language)
            checked = time.perf_counter()
            self.times.filters += checked - started
            if verdict is not None:
                reason, detail = verdict
            else:
                decision = self.index.check(item.instruction, k=NEIGHBOURS_STORED)
                self.times.near_duplicates += time.perf_counter() - checked
                row.update(self._neighbours(decision))
                if decision.is_duplicate:
                    reason = Reason.NEAR_DUPLICATE
                    detail = (
                        f"ROUGE-L {decision.max_score:.3f} > {job.rouge_threshold} against a kept instruction"
                    )
                elif kept >= job.target:
                    reason, detail = Reason.TARGET_REACHED, "the job already had its target when this arrived"
        if reason is None:
            row["status"] = RecordStatus.KEPT
        else:
            row["status"] = RecordStatus.REJECTED
            row["reason"] = reason
            row["reason_detail"] = detail
            rejections[reason] = rejections.get(reason, 0) + 1
        return row

    @staticmethod
    def _neighbours(decision: Decision) -> dict[str, Any]:
        nearest = []
        for neighbour in decision.neighbours:
            key = neighbour.key
            if isinstance(key, str) and key.startswith("seed:"):
                kind, ident = "seed", int(key[5:])
            else:
                kind, ident = "record", int(key)
            nearest.append(
                {"kind": kind, "id": ident, "instruction": neighbour.text, "score": neighbour.score}
            )
        return {
            "nearest": nearest,
            "max_similarity": decision.max_score,
            "mean_similarity": decision.mean_score,
        }

    # -- bookkeeping ----------------------------------------------------------------------------
    def _renew(self, active: float) -> str | None:
        with unit_of_work(self.session_factory) as session:
            return repository.renew_lease(
                session, self.job_id, self.runner_id, self.settings.lease_seconds, active
            )

    def _finish(self, status: JobStatus, reason: str | None) -> None:
        with unit_of_work(self.session_factory) as session:
            repository.set_status(session, self.job_id, self.runner_id, status, reason)
            repository.release(session, self.job_id, self.runner_id)

    def _release(self) -> None:
        with unit_of_work(self.session_factory) as session:
            repository.release(session, self.job_id, self.runner_id)


class Runner(LeaseRunner):
    """Claims runnable generation jobs and runs up to ``max_parallel_jobs`` of them at once."""

    model = Job
    runnable = repository.RUNNABLE
    kind = "job"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        runner_id: str | None = None,
        only_job_id: int | None = None,
        teacher_factory: Callable[[Job, Settings], Teacher] = teacher_for,
    ) -> None:
        super().__init__(session_factory, settings, runner_id=runner_id, only_id=only_job_id)
        self.teacher_factory = teacher_factory
        self.stage_times: dict[int, StageTimes] = {}

    def make_execution(self, row_id: int) -> JobExecution:
        execution = JobExecution(
            row_id, self.runner_id, self.session_factory, self.settings, teacher_factory=self.teacher_factory
        )
        self.stage_times[row_id] = execution.times
        return execution
