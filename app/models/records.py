from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class RecordStatus(enum.StrEnum):
    KEPT = "kept"
    REJECTED = "rejected"


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Record(Base):
    """One candidate the teacher wrote: kept, or rejected with the reason (so it can be restored)."""

    __tablename__ = "records"
    __table_args__ = (
        # A reply's records are written once: re-applying the same reply violates this.
        UniqueConstraint("call_id", "position"),
        Index("ix_records_job_status_id", "job_id", "status", "id"),
        Index("ix_records_status_review_id", "status", "review_status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("teacher_calls.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    reason_detail: Mapped[str | None] = mapped_column(Text, default=None)
    instruction: Mapped[str] = mapped_column(Text)
    input: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    review_status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.PENDING)
    max_similarity: Mapped[float | None] = mapped_column(Float, default=None)
    mean_similarity: Mapped[float | None] = mapped_column(Float, default=None)
    nearest: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
