from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.CANCELLED})
RUNNABLE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_lease", "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)

    # What to make.
    target: Mapped[int]
    model: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(String(500), default=None)
    api_key_env: Mapped[str | None] = mapped_column(String(100), default=None)
    seed_set_id: Mapped[int] = mapped_column(ForeignKey("seed_sets.id"))
    language: Mapped[str] = mapped_column(String(16), default="en")
    api: Mapped[str] = mapped_column(String(16), default="chat")
    examples_per_prompt: Mapped[int] = mapped_column(default=3)
    records_per_request: Mapped[int] = mapped_column(default=20)
    generated_examples: Mapped[int] = mapped_column(default=0)
    temperature: Mapped[float] = mapped_column(Float, default=1.0)
    top_p: Mapped[float] = mapped_column(Float, default=1.0)
    max_tokens: Mapped[int] = mapped_column(default=3072)
    rouge_threshold: Mapped[float] = mapped_column(Float, default=0.7)
    concurrency: Mapped[int] = mapped_column(default=4)
    requests_per_minute: Mapped[int | None] = mapped_column(default=None)
    tokens_per_minute: Mapped[int | None] = mapped_column(default=None)
    budget_usd: Mapped[float | None] = mapped_column(Float, default=None)
    price_input_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    price_output_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    prompt_template: Mapped[str | None] = mapped_column(Text, default=None)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int] = mapped_column(default=0)

    # What happened (updated in the same transaction as the reply that changed it).
    kept: Mapped[int] = mapped_column(default=0)
    candidates: Mapped[int] = mapped_column(default=0)
    rejections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requests_sent: Mapped[int] = mapped_column(default=0)
    requests_failed: Mapped[int] = mapped_column(default=0)
    requests_retried: Mapped[int] = mapped_column(default=0)
    requests_abandoned: Mapped[int] = mapped_column(default=0)
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


class TeacherCallStatus(enum.StrEnum):
    IN_FLIGHT = "in_flight"
    APPLIED = "applied"
    FAILED = "failed"
    ABANDONED = "abandoned"  # the runner died before the reply came back


class TeacherCall(Base):
    __tablename__ = "teacher_calls"
    __table_args__ = (Index("ix_teacher_calls_job_status", "job_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=TeacherCallStatus.IN_FLIGHT)
    runner_id: Mapped[str | None] = mapped_column(String(200), default=None)
    model: Mapped[str] = mapped_column(String(200))
    api: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[Any]] = mapped_column(default=list)
    raw_reply: Mapped[str | None] = mapped_column(Text, default=None)
    finish_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
