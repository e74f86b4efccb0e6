from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.records.service import RecordFilter
from app.schemas import Schema


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject", "reset", "restore"] = Field(
        description="approve / reject / reset (back to pending) a kept record; restore a rejected candidate."
    )


class RecordEditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction: str | None = Field(default=None, max_length=100_000)
    input: str | None = Field(default=None, max_length=100_000)
    output: str | None = Field(default=None, max_length=100_000)

    @model_validator(mode="after")
    def _something_to_change(self) -> RecordEditRequest:
        if self.instruction is None and self.input is None and self.output is None:
            raise ValueError("give at least one of instruction, input, output")
        return self

    def changes(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class RecordFilterParams(BaseModel):
    """The filters of ``GET /api/v1/records``, as a body."""

    model_config = ConfigDict(extra="forbid")

    job_id: int | None = None
    status: Literal["kept", "rejected"] | None = None
    review_status: Literal["pending", "approved", "rejected"] | None = None
    reason: str | None = None
    has_input: bool | None = None
    language: str | None = None
    min_similarity: float | None = Field(default=None, ge=0, le=1)
    max_similarity: float | None = Field(default=None, ge=0, le=1)
    q: str | None = Field(default=None, max_length=500)

    def to_filter(self) -> RecordFilter:
        return RecordFilter(**self.model_dump(include=set(RecordFilterParams.model_fields)))


class BulkReviewRequest(RecordFilterParams):
    action: Literal["approve", "reject", "reset"]
    dry_run: bool = Field(
        default=False, description="Only count: how many kept records match, and would change."
    )


class BulkReviewRead(Schema):
    action: str
    matched: int
    changed: int
    dry_run: bool


class RecordEditRead(Schema):
    id: int
    record_id: int
    at: datetime
    kind: str
    field: str
    before: str | None
    after: str | None
    detail: str | None
    actor: str


class TeacherCallRead(Schema):
    id: int
    job_id: int
    status: str
    model: str
    api: str
    prompt: str
    raw_reply: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float | None
    attempts: int
    error: str | None
    examples: list[Any]
    created_at: datetime
    completed_at: datetime | None


class JobSummaryRead(Schema):
    id: int
    name: str | None
    status: str
    kept: int
    target: int
    rejected: int
    approved: int
    review_rejected: int
    cost_usd: float
