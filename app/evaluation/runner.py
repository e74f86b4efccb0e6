"""The evaluation loop. An evaluation is a row: a runner claims it with a lease, gathers the answers that are
missing, then asks the judge for the verdicts that are missing. Every answer and every judge call is written
in its own transaction together with the evaluation's counters, so a crash costs only the calls in flight
and a restart carries on with exactly what the database lacks: nothing stored is redone or lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.evaluation import repository
from app.evaluation.judging import pairwise_messages, parse_pairwise, parse_single, single_messages
from app.evaluation.question_sets import sync_builtin_question_sets
from app.evaluation.repository import JudgmentItem
from app.generation.ratelimit import RateLimiter
from app.generation.runner import DEFAULT_OPENAI_URL
from app.generation.teacher import Teacher, TeacherError, TeacherReply
from app.leases import LeaseRunner
from app.models import (
    AnsweredBy,
    Evaluation,
    EvaluationAnswer,
    EvaluationStatus,
    Judgment,
    JudgmentKind,
    JudgmentStatus,
    JudgmentTarget,
    ModelEndpoint,
    Role,
)

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4.0  # for rate-limit estimates before the server reports real usage
TOP_P = 1.0

T = TypeVar("T")


class LeaseLost(Exception):
    pass


def teacher_for_model(model: ModelEndpoint, settings: Settings) -> Teacher:
    """The openai client for a registered model, with the same key rules as a generation job's teacher."""
    base_url = model.base_url or settings.openai_base_url or DEFAULT_OPENAI_URL
    if model.api_key_env:
        api_key = os.environ.get(model.api_key_env)
        if not api_key:
            raise TeacherError(
                f"the environment variable {model.api_key_env} (the api_key_env of model '{model.name}') "
                "is not set",
                fatal=True,
            )
    elif settings.openai_api_key is not None:
        api_key = settings.openai_api_key.get_secret_value()
    elif base_url == DEFAULT_OPENAI_URL:
        raise TeacherError(
            f"OPENAI_API_KEY is not set for model '{model.name}': export it, give the model an api_key_env, "
            "or point its base_url at your own server",
            fatal=True,
        )
    else:
        api_key = "EMPTY"  # self-hosted servers (vLLM, Ollama, llama.cpp) accept any key
    return Teacher(
        base_url=base_url,
        api_key=api_key,
        model=model.model,
        api="chat",
        timeout=settings.teacher_timeout,
        max_attempts=settings.teacher_max_attempts,
        backoff_max=settings.teacher_backoff_max,
    )


@dataclass(frozen=True, slots=True)
class _Question:
    id: int
    key: str
    category: str
    turns: list[str]
    reference: list[str] | None


@dataclass(frozen=True, slots=True)
class _Model:
    id: int
    name: str
    answered_by: str
    system_prompt: str | None
    temperature: float
    max_tokens: int
    price_input_per_mtok: float
    price_output_per_mtok: float

    def cost(self, reply: TeacherReply) -> float:
        return (
            reply.prompt_tokens * self.price_input_per_mtok
            + reply.completion_tokens * self.price_output_per_mtok
        ) / 1e6


@dataclass
class _Caller:
    """One model's client, rate limits and failure streak for the length of a run."""

    role: str
    model: _Model
    teacher: Teacher
    limiter: RateLimiter
    consecutive_failures: int = 0


@dataclass
class EvaluationExecution:
    evaluation_id: int
    runner_id: str
    session_factory: sessionmaker[Session]
    settings: Settings
    teacher_factory: Callable[[ModelEndpoint, Settings], Teacher] = teacher_for_model
    questions: list[_Question] = field(init=False, default_factory=list)
    answers: dict[tuple[str, int], list[str]] = field(init=False, default_factory=dict)
    done: set[JudgmentItem] = field(init=False, default_factory=set)
    evaluation: _Plan = field(init=False)

    def __post_init__(self) -> None:
        self._stop: str | None = None  # why no more calls should start
        self._final: tuple[EvaluationStatus, str | None] | None = None
        self._callers: dict[str, _Caller] = {}
        self._failures: dict[str, str] = {}  # role -> the last error, for the final reason

    # -- set-up ---------------------------------------------------------------------------------------------
    def _prepare(self) -> dict[str, ModelEndpoint]:
        with unit_of_work(self.session_factory) as session:
            evaluation = repository.start(session, self.evaluation_id)
            if evaluation.status != EvaluationStatus.RUNNING:
                self._stop = f"status changed to {evaluation.status}"
            self.evaluation = _snapshot(evaluation)
            self.questions = [
                _Question(q.id, q.key, q.category, list(q.turns), list(q.reference) if q.reference else None)
                for q in repository.load_questions(session, evaluation.question_set_id)
            ]
            self.answers = {
                (a.role, a.question_id): list(a.turns)
                for a in repository.load_answers(session, self.evaluation_id)
            }
            self.done = repository.done_judgments(session, self.evaluation_id)
            models = {
                Role.CANDIDATE.value: session.get(ModelEndpoint, evaluation.candidate_id),
                Role.BASELINE.value: session.get(ModelEndpoint, evaluation.baseline_id),
                "judge": session.get(ModelEndpoint, evaluation.judge_id),
            }
            for model in models.values():
                assert model is not None
                session.expunge(model)
        return {role: model for role, model in models.items() if model is not None}

    def _open_callers(self, models: dict[str, ModelEndpoint], roles: Iterable[str]) -> None:
        for role in roles:
            if role in self._callers:
                continue
            model = models[role]
            try:
                teacher = self.teacher_factory(model, self.settings)
            except TeacherError as exc:
                self._fail(f"{self._describe(role, model.name)}: {exc.message}")
                return
            self._callers[role] = _Caller(
                role=role,
                model=_Model(
                    model.id,
                    model.name,
                    model.answered_by,
                    model.system_prompt,
                    model.temperature,
                    model.max_tokens,
                    model.price_input_per_mtok,
                    model.price_output_per_mtok,
                ),
                teacher=teacher,
                limiter=RateLimiter(model.requests_per_minute, model.tokens_per_minute),
            )

    @staticmethod
    def _describe(role: str, name: str) -> str:
        return f"the judge '{name}'" if role == "judge" else f"the {role} '{name}'"

    # -- the run --------------------------------------------------------------------------------------------
    async def run(self) -> None:
        models = await asyncio.to_thread(self._prepare)
        if self._stop is not None:
            await asyncio.to_thread(self._release)
            return
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"evaluation-{self.evaluation_id}-lease")
        try:
            await self._run(models)
            if self._final is not None:
                await asyncio.to_thread(self._finish, *self._final)
        except LeaseLost:
            logger.warning("evaluation %s: lease lost to another runner; stopping", self.evaluation_id)
            return
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            for caller in self._callers.values():
                await caller.teacher.close()
        await asyncio.to_thread(self._release)

    async def _run(self, models: dict[str, ModelEndpoint]) -> None:
        # 1. Answers Pasture asks for itself.
        wanted = [
            (role, question)
            for role in (Role.BASELINE.value, Role.CANDIDATE.value)
            if models[role].answered_by == AnsweredBy.ENDPOINT
            for question in self.questions
            if (role, question.id) not in self.answers
        ]
        if wanted:
            self._open_callers(models, sorted({role for role, _ in wanted}))
            await self._pool(wanted, lambda item: self._answer(*item))
        if self._stop is not None:
            return
        missing = {
            role: sum((role, q.id) not in self.answers for q in self.questions)
            for role in (Role.CANDIDATE.value, Role.BASELINE.value)
        }
        endpoint_missing = {
            r: n for r, n in missing.items() if n and models[r].answered_by == AnsweredBy.ENDPOINT
        }
        if endpoint_missing:
            details = "; ".join(
                f"{n} from {self._describe(role, models[role].name)} "
                f"(last error: {self._failures.get(role, '?')})"
                for role, n in endpoint_missing.items()
            )
            self._fail(f"answers missing: {details}; resume to ask again")
            return
        worker_missing = {r: n for r, n in missing.items() if n}
        if worker_missing:
            details = ", ".join(f"{n} from '{models[role].name}'" for role, n in worker_missing.items())
            self._final = (
                EvaluationStatus.WAITING,
                f"waiting for {details}: "
                f"a worker posts them to /api/v1/evaluations/{self.evaluation_id}/answers",
            )
            return

        # 2. Verdicts.
        items = [item for item in self._judgment_items() if item[2] not in self.done]
        if items:
            self._open_callers(models, ["judge"])
            if self._stop is None:
                await self._pool(items, lambda item: self._judge(*item))
        if self._stop is not None:
            return
        left = sum(item not in self.done for _, _, item in self._judgment_items())
        if left:
            self._fail(
                f"{left} judge calls failed (last error: {self._failures.get('judge', '?')}); "
                "resume to ask again"
            )
        else:
            self._final = (EvaluationStatus.SUCCEEDED, None)

    def _judgment_items(self) -> list[tuple[_Question, str, JudgmentItem]]:
        items = []
        for question in self.questions:
            if self.evaluation.pairwise:
                for target in (JudgmentTarget.CANDIDATE_FIRST, JudgmentTarget.BASELINE_FIRST):
                    items.append(
                        (question, "pairwise", (question.id, JudgmentKind.PAIRWISE.value, target.value))
                    )
            if self.evaluation.single:
                for target in (JudgmentTarget.CANDIDATE, JudgmentTarget.BASELINE):
                    items.append((question, "single", (question.id, JudgmentKind.SINGLE.value, target.value)))
        return items

    async def _pool(self, items: list[T], work: Callable[[T], Awaitable[None]]) -> None:
        """Run ``work`` over the items, ``concurrency`` at a time; stop starting new ones once told to."""
        gate = asyncio.Semaphore(self.evaluation.concurrency)

        async def one(item: T) -> None:
            async with gate:
                if self._stop is None:
                    await work(item)

        results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
        for result in results:
            if isinstance(result, LeaseLost):
                raise result
        for result in results:
            if isinstance(result, BaseException):
                logger.error("evaluation %s: a call crashed", self.evaluation_id, exc_info=result)
                self._fail(f"internal error: {result.__class__.__name__}: {result}")
                return

    def request_stop(self, why: str) -> None:
        """Start no more calls; the run finishes what was sent and hands the evaluation back."""
        self._stop = self._stop or why

    def _fail(self, reason: str) -> None:
        if self._final is None or self._final[0] != EvaluationStatus.FAILED:
            self._final = (EvaluationStatus.FAILED, reason)
        self._stop = self._stop or reason

    # -- calls ----------------------------------------------------------------------------------------------
    async def _call(
        self, caller: _Caller, messages: list[dict[str, str]], max_tokens: int, temperature: float
    ) -> TeacherReply | TeacherError | None:
        """One model call within the model's rate limits; None when the run stopped before it was sent."""
        estimated = sum(len(m["content"]) for m in messages) / CHARS_PER_TOKEN + max_tokens
        await caller.limiter.acquire(estimated)
        if self._stop is not None:
            caller.limiter.settle(estimated, 0)
            return None
        try:
            reply = await caller.teacher.complete(
                messages[-1]["content"],
                temperature=temperature,
                top_p=TOP_P,
                max_tokens=max_tokens,
                messages=messages,
            )
        except TeacherError as exc:
            caller.limiter.settle(estimated, 0)
            self._note_failure(caller, exc)
            return exc
        caller.limiter.settle(estimated, reply.prompt_tokens + reply.completion_tokens)
        caller.limiter.observe_headers(reply.headers)
        caller.consecutive_failures = 0
        return reply

    def _note_failure(self, caller: _Caller, exc: TeacherError) -> None:
        caller.consecutive_failures += 1
        self._failures[caller.role] = exc.message
        logger.warning("evaluation %s: %s failed: %s", self.evaluation_id, caller.role, exc.message)
        if exc.fatal or caller.consecutive_failures >= self.settings.teacher_max_consecutive_failures:
            self._fail(f"{self._describe(caller.role, caller.model.name)}: {exc.message}")

    async def _answer(self, role: str, question: _Question) -> None:
        caller = self._callers.get(role)
        if caller is None:
            return
        model = caller.model
        messages: list[dict[str, str]] = []
        if model.system_prompt:
            messages.append({"role": "system", "content": model.system_prompt})
        turns: list[str] = []
        usage = _Usage()
        for turn in question.turns:
            messages.append({"role": "user", "content": turn})
            reply = await self._call(caller, messages, model.max_tokens, model.temperature)
            if reply is None:
                return
            if isinstance(reply, TeacherError):
                await asyncio.to_thread(self._answer_failed)
                return
            usage.add(reply, model.cost(reply))
            turns.append(reply.text)
            messages.append({"role": "assistant", "content": reply.text})
        await asyncio.to_thread(self._store_answer, role, question, model, turns, usage)

    async def _judge(self, question: _Question, kind: str, item: JudgmentItem) -> None:
        caller = self._callers["judge"]
        target = item[2]
        reference = question.reference if question.category in self.evaluation.reference_categories else None
        candidate = self.answers[(Role.CANDIDATE.value, question.id)]
        baseline = self.answers[(Role.BASELINE.value, question.id)]
        if kind == JudgmentKind.PAIRWISE:
            first, second = (
                (candidate, baseline) if target == JudgmentTarget.CANDIDATE_FIRST else (baseline, candidate)
            )
            messages = pairwise_messages(question.turns, first, second, reference)
        else:
            answer = candidate if target == JudgmentTarget.CANDIDATE else baseline
            messages = single_messages(question.turns, answer, reference)
        reply = await self._call(
            caller, messages, self.evaluation.judge_max_tokens, self.evaluation.judge_temperature
        )
        if reply is None:
            return
        judgment = Judgment(
            evaluation_id=self.evaluation_id,
            question_id=question.id,
            kind=kind,
            target=target,
            model=caller.teacher.model,
            messages=messages,
            reference_used=reference is not None,
        )
        if isinstance(reply, TeacherError):
            judgment.status = JudgmentStatus.FAILED
            judgment.error = reply.message
            judgment.attempts = reply.attempts
        else:
            _read_verdict(judgment, reply)
            judgment.finish_reason = reply.finish_reason
            judgment.prompt_tokens = reply.prompt_tokens
            judgment.completion_tokens = reply.completion_tokens
            judgment.cost_usd = caller.model.cost(reply)
            judgment.latency_ms = reply.latency_s * 1000
            judgment.attempts = reply.attempts
        await asyncio.to_thread(self._store_judgment, judgment, item)

    # -- writes (one transaction each) ----------------------------------------------------------------------
    def _owned(self, session: Session) -> Evaluation:
        evaluation = repository.lock_owned(
            session, self.evaluation_id, self.runner_id, self.settings.lease_seconds
        )
        if evaluation is None:
            raise LeaseLost
        return evaluation

    def _store_answer(
        self, role: str, question: _Question, model: _Model, turns: list[str], usage: _Usage
    ) -> None:
        try:
            with unit_of_work(self.session_factory) as session:
                evaluation = self._owned(session)
                session.add(
                    EvaluationAnswer(
                        evaluation_id=self.evaluation_id,
                        question_id=question.id,
                        role=role,
                        model=self._callers[role].teacher.model,
                        source=AnsweredBy.ENDPOINT,
                        turns=turns,
                        finish_reason=usage.finish_reason,
                        prompt_tokens=usage.prompt_tokens,
                        completion_tokens=usage.completion_tokens,
                        cost_usd=usage.cost_usd,
                        latency_ms=usage.latency_ms,
                    )
                )
                evaluation.answers_stored += 1
                evaluation.prompt_tokens += usage.prompt_tokens
                evaluation.completion_tokens += usage.completion_tokens
                evaluation.cost_usd += usage.cost_usd
                session.flush()
        except IntegrityError:
            logger.info(
                "evaluation %s: answer to %s by the %s was already stored",
                self.evaluation_id,
                question.key,
                role,
            )
            return
        self.answers[(role, question.id)] = turns

    def _answer_failed(self) -> None:
        with unit_of_work(self.session_factory) as session:
            self._owned(session).answer_calls_failed += 1

    def _store_judgment(self, judgment: Judgment, item: JudgmentItem) -> None:
        with unit_of_work(self.session_factory) as session:
            evaluation = self._owned(session)  # holds the row lock: one writer per evaluation at a time
            if judgment.status != JudgmentStatus.FAILED and repository.judgment_done(
                session, self.evaluation_id, item
            ):
                return  # never two verdicts for one item
            session.add(judgment)
            evaluation.judge_calls += 1
            evaluation.judge_calls_failed += judgment.status == JudgmentStatus.FAILED
            evaluation.judge_unparsable += judgment.status == JudgmentStatus.UNPARSABLE
            evaluation.prompt_tokens += judgment.prompt_tokens
            evaluation.completion_tokens += judgment.completion_tokens
            evaluation.cost_usd += judgment.cost_usd
        if judgment.status != JudgmentStatus.FAILED:
            self.done.add(item)

    # -- bookkeeping ----------------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        interval = min(self.settings.poll_seconds, self.settings.lease_seconds / 3)
        last = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            try:
                status = await asyncio.to_thread(self._renew, now - last)
            except Exception:
                logger.exception("evaluation %s: could not renew the lease", self.evaluation_id)
                continue
            last = now
            if status is None:
                self._stop = "lease lost"
                return
            if status != EvaluationStatus.RUNNING:
                self._stop = f"status changed to {status}"
                return

    def _renew(self, active: float) -> str | None:
        with unit_of_work(self.session_factory) as session:
            return repository.renew_lease(
                session, self.evaluation_id, self.runner_id, self.settings.lease_seconds, active
            )

    def _finish(self, status: EvaluationStatus, reason: str | None) -> None:
        with unit_of_work(self.session_factory) as session:
            if (
                status == EvaluationStatus.WAITING
                and self._owned(session)
                and not any(
                    len(self.questions) - len(repository.answered(session, self.evaluation_id, role))
                    for role in (Role.CANDIDATE.value, Role.BASELINE.value)
                )
            ):
                status, reason = EvaluationStatus.QUEUED, None  # the last answers were posted meanwhile
            repository.set_status(session, self.evaluation_id, self.runner_id, status, reason)
            repository.release(session, self.evaluation_id, self.runner_id)
        if status == EvaluationStatus.FAILED:
            logger.warning("evaluation %s failed: %s", self.evaluation_id, reason)

    def _release(self) -> None:
        with unit_of_work(self.session_factory) as session:
            repository.release(session, self.evaluation_id, self.runner_id)


@dataclass(frozen=True, slots=True)
class _Plan:
    pairwise: bool
    single: bool
    reference_categories: frozenset[str]
    judge_temperature: float
    judge_max_tokens: int
    concurrency: int


def _snapshot(evaluation: Evaluation) -> _Plan:
    return _Plan(
        pairwise=evaluation.pairwise,
        single=evaluation.single,
        reference_categories=frozenset(evaluation.reference_categories or []),
        judge_temperature=evaluation.judge_temperature,
        judge_max_tokens=evaluation.judge_max_tokens,
        concurrency=evaluation.concurrency,
    )


@dataclass
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    finish_reason: str | None = None

    def add(self, reply: TeacherReply, cost: float) -> None:
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.cost_usd += cost
        self.latency_ms += reply.latency_s * 1000
        self.finish_reason = reply.finish_reason


def _read_verdict(judgment: Judgment, reply: TeacherReply) -> None:
    judgment.raw_reply = reply.text
    if judgment.kind == JudgmentKind.PAIRWISE:
        verdict = parse_pairwise(reply.text)
        judgment.explanation = verdict.explanation
        if verdict.verdict is None:
            judgment.status, judgment.problem = JudgmentStatus.UNPARSABLE, verdict.problem
            return
        judgment.status = JudgmentStatus.OK
        judgment.verdict = verdict.verdict
        first, second = (
            (Role.CANDIDATE, Role.BASELINE)
            if judgment.target == JudgmentTarget.CANDIDATE_FIRST
            else (Role.BASELINE, Role.CANDIDATE)
        )
        judgment.winner = {"A": first.value, "B": second.value}.get(verdict.verdict, "tie")
        return
    grade = parse_single(reply.text)
    judgment.explanation = grade.explanation
    if grade.score is None:
        judgment.status, judgment.problem = JudgmentStatus.UNPARSABLE, grade.problem
        return
    judgment.status = JudgmentStatus.OK
    judgment.score = grade.score


class EvaluationRunner(LeaseRunner):
    """Claims runnable evaluations and runs up to ``max_parallel_jobs`` of them at once."""

    model = Evaluation
    runnable = repository.RUNNABLE
    kind = "evaluation"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        runner_id: str | None = None,
        only_evaluation_id: int | None = None,
        teacher_factory: Callable[[ModelEndpoint, Settings], Teacher] = teacher_for_model,
    ) -> None:
        super().__init__(session_factory, settings, runner_id=runner_id, only_id=only_evaluation_id)
        self.teacher_factory = teacher_factory

    async def on_start(self) -> None:
        try:
            await asyncio.to_thread(self._sync_question_sets)
        except Exception:
            logger.exception("could not load the built-in question sets")

    def _sync_question_sets(self) -> None:
        with unit_of_work(self.session_factory) as session:
            sync_builtin_question_sets(session)

    def make_execution(self, row_id: int) -> EvaluationExecution:
        return EvaluationExecution(
            row_id, self.runner_id, self.session_factory, self.settings, teacher_factory=self.teacher_factory
        )
