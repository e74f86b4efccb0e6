from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class SeedSet(Base):
    __tablename__ = "seed_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    language: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="upload")  # builtin | upload
    sha256: Mapped[str] = mapped_column(String(64))
    task_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tasks: Mapped[list[SeedTask]] = relationship(
        back_populates="seed_set", order_by="SeedTask.position", cascade="all, delete-orphan"
    )


class SeedTask(Base):
    __tablename__ = "seed_tasks"
    __table_args__ = (UniqueConstraint("seed_set_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seed_set_id: Mapped[int] = mapped_column(ForeignKey("seed_sets.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200), default="")
    instruction: Mapped[str] = mapped_column(Text)
    input: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[str] = mapped_column(Text, default="")
    is_classification: Mapped[bool] = mapped_column(default=False)
    instances: Mapped[list[Any]] = mapped_column(default=list)

    seed_set: Mapped[SeedSet] = relationship(back_populates="tasks")
