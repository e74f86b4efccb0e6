"""Evaluation: question sets, the models that answer them, and the judge's verdicts on those answers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class QuestionSet(Base):
    __tablename__ = "question_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="upload")  # builtin | upload
    sha256: Mapped[str] = mapped_column(String(64))
    question_count: Mapped[int] = mapped_column(default=0)
    categories: Mapped[list[Any]] = mapped_column(default=list)  # in order of first appearance
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    questions: Mapped[list[Question]] = relationship(
        back_populates="question_set", order_by="Question.position", cascade="all, delete-orphan"
    )


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("question_set_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_set_id: Mapped[int] = mapped_column(
        ForeignKey("question_sets.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    key: Mapped[str] = mapped_column(String(100))  # the file's question_id, as text
    category: Mapped[str] = mapped_column(String(50))
    turns: Mapped[list[Any]] = mapped_column()  # the user's messages, one per turn
    reference: Mapped[list[Any] | None] = mapped_column(default=None)  # a correct answer per turn

    question_set: Mapped[QuestionSet] = relationship(back_populates="questions")


class AnsweredBy(enum.StrEnum):
    ENDPOINT = "endpoint"  # Pasture asks the model's OpenAI-compatible server
    WORKER = "worker"  # a worker posts the answers (e.g. a training run's adapter, batched on a GPU)


class ModelEndpoint(Base):
    """A model Pasture can evaluate or judge with: where it is served and how to ask it."""

    __tablename__ = "model_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(16), default=AnsweredBy.ENDPOINT)
    base_url: Mapped[str | None] = mapped_column(String(500), default=None)
    model: Mapped[str] = mapped_column(String(200))
    api_key_env: Mapped[str | None] = mapped_column(String(100), default=None)
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    temperature: Mapped[float] = mapped_column(Float, default=0.7)
    max_tokens: Mapped[int] = mapped_column(default=1024)
    requests_per_minute: Mapped[int | None] = mapped_column(default=None)
    tokens_per_minute: Mapped[int | None] = mapped_column(default=None)
    price_input_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    price_output_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    # What produced the model. Plain ids: they name rows of the export and training-run tables.
    training_run_id: Mapped[int | None] = mapped_column(default=None)
    export_id: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EvaluationStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"  # for answers a worker has to post
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Evaluation(Base):
    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_status_lease", "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default=EvaluationStatus.QUEUED)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)

    # What to compare, on what, judged by whom.
    question_set_id: Mapped[int] = mapped_column(ForeignKey("question_sets.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("model_endpoints.id"))
    baseline_id: Mapped[int] = mapped_column(ForeignKey("model_endpoints.id"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("model_endpoints.id"))
    pairwise: Mapped[bool] = mapped_column(default=True)
    single: Mapped[bool] = mapped_column(default=True)
    reference_categories: Mapped[list[Any]] = mapped_column(default=list)
    judge_temperature: Mapped[float] = mapped_column(Float, default=0.0)
    judge_max_tokens: Mapped[int] = mapped_column(default=1024)
    concurrency: Mapped[int] = mapped_column(default=4)
    bootstrap_samples: Mapped[int] = mapped_column(default=2000)
    seed: Mapped[int] = mapped_column(default=0)

    # What happened (updated in the same transaction as the row that changed it).
    answers_stored: Mapped[int] = mapped_column(default=0)
    answer_calls_failed: Mapped[int] = mapped_column(default=0)
    judge_calls: Mapped[int] = mapped_column(default=0)
    judge_calls_failed: Mapped[int] = mapped_column(default=0)
    judge_unparsable: Mapped[int] = mapped_column(default=0)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    active_seconds: Mapped[float] = mapped_column(Float, default=0.0)

    # Which runner owns it.
    runner_id: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Role(enum.StrEnum):
    CANDIDATE = "candidate"
    BASELINE = "baseline"


class EvaluationAnswer(Base):
    """One model's complete answer to one question (every turn), written once in its own transaction."""

    __tablename__ = "evaluation_answers"
    __table_args__ = (UniqueConstraint("evaluation_id", "role", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # endpoint | worker
    turns: Mapped[list[Any]] = mapped_column()  # the answer to each turn
    finish_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JudgmentKind(enum.StrEnum):
    PAIRWISE = "pairwise"
    SINGLE = "single"


class JudgmentTarget(enum.StrEnum):
    CANDIDATE_FIRST = "candidate_first"  # pairwise: the candidate shown as assistant A
    BASELINE_FIRST = "baseline_first"  # pairwise: the baseline shown as assistant A
    CANDIDATE = "candidate"  # single: the candidate's answer graded
    BASELINE = "baseline"  # single: the baseline's answer graded


class JudgmentStatus(enum.StrEnum):
    OK = "ok"
    UNPARSABLE = "unparsable"  # the reply came back but held no verdict we could read
    FAILED = "failed"  # no reply after every retry; the item is asked again on resume


DONE_JUDGMENT_STATUSES = (JudgmentStatus.OK.value, JudgmentStatus.UNPARSABLE.value)


class Judgment(Base):
    """One judge call with its raw reply and cost, written in one transaction once the reply is in."""

    __tablename__ = "evaluation_judgments"
    __table_args__ = (
        Index("ix_evaluation_judgments_item", "evaluation_id", "question_id", "kind", "target"),
        Index("ix_evaluation_judgments_evaluation_status", "evaluation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    messages: Mapped[list[Any]] = mapped_column()  # exactly what the judge was sent
    reference_used: Mapped[bool] = mapped_column(default=False)
    raw_reply: Mapped[str | None] = mapped_column(Text, default=None)
    verdict: Mapped[str | None] = mapped_column(String(8), default=None)  # pairwise, as shown: A, B or tie
    winner: Mapped[str | None] = mapped_column(String(16), default=None)  # candidate, baseline or tie
    score: Mapped[float | None] = mapped_column(Float, default=None)  # single: 1-10
    explanation: Mapped[str | None] = mapped_column(Text, default=None)
    problem: Mapped[str | None] = mapped_column(Text, default=None)  # why an unparsable reply did not parse
    error: Mapped[str | None] = mapped_column(Text, default=None)  # why a failed call failed
    finish_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
