from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class Export(Base):
    """An immutable snapshot of records in one format; its lines are stored, so edits never change it."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    format: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    validation_ratio: Mapped[float] = mapped_column(default=0.0)
    record_count: Mapped[int] = mapped_column(default=0)
    validation_count: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    validation_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size_bytes: Mapped[int] = mapped_column(default=0)
    decontaminated: Mapped[int] = mapped_column(default=0)
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportLine(Base):
    __tablename__ = "export_lines"
    __table_args__ = (
        Index("ix_export_lines_export_split_position", "export_id", "split", "position", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(String(16))  # train | validation
    position: Mapped[int]
    record_id: Mapped[int | None] = mapped_column(default=None)
    line: Mapped[str] = mapped_column(Text)
