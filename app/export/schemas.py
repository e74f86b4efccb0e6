from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Schema


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["alpaca", "sharegpt", "messages"] = "alpaca"
    job_ids: list[int] | None = Field(default=None, description="Jobs to take records from; default all.")
    review_status: list[Literal["pending", "approved", "rejected"]] = Field(
        default=["approved"], description="Review statuses to include (approved by default)."
    )
    language: str | None = None
    validation_ratio: float = Field(default=0.02, ge=0.0, lt=1.0, description="Share held out, by text hash.")
    decontaminate_texts: list[str] = Field(
        default_factory=list,
        description="Evaluation prompts: records whose instruction is near them are dropped.",
    )
    decontaminate_question_sets: list[str] = Field(
        default_factory=list, description="Names of uploaded question sets to decontaminate against."
    )
    decontaminate_threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    name: str | None = Field(default=None, max_length=200)


class ExportRead(Schema):
    id: int
    name: str | None
    format: str
    filters: dict[str, Any]
    validation_ratio: float
    record_count: int
    validation_count: int
    sha256: str
    validation_sha256: str | None
    size_bytes: int
    decontaminated: int
    manifest: dict[str, Any]
    created_at: datetime
