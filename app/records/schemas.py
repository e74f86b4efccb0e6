from __future__ import annotations

from datetime import datetime
from typing import Any

from app.schemas import Schema


class RecordRead(Schema):
    id: int
    job_id: int
    call_id: int | None
    position: int
    status: str
    reason: str | None
    reason_detail: str | None
    instruction: str
    input: str
    output: str
    language: str
    review_status: str
    max_similarity: float | None
    mean_similarity: float | None
    nearest: list[Any]
    created_at: datetime
    updated_at: datetime
