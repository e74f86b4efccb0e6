from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from app.deps import SessionDep
from app.records import service
from app.records.schemas import RecordRead
from app.schemas import Page

router = APIRouter(prefix="/api/v1/records", tags=["records"])


@router.get("", response_model=Page[RecordRead])
def list_records(
    session: SessionDep,
    job_id: int | None = None,
    status: Literal["kept", "rejected"] | None = None,
    review_status: Literal["pending", "approved", "rejected"] | None = None,
    reason: str | None = Query(None, description="Rejection reason, e.g. near_duplicate."),
    has_input: bool | None = None,
    language: str | None = None,
    min_similarity: float | None = Query(None, ge=0, le=1),
    max_similarity: float | None = Query(None, ge=0, le=1),
    q: str | None = Query(None, max_length=500, description="Text to find in instruction, input or output."),
    order: Literal["asc", "desc"] = "asc",
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
) -> Page[RecordRead]:
    f = service.RecordFilter(
        job_id=job_id,
        status=status,
        review_status=review_status,
        reason=reason,
        has_input=has_input,
        language=language,
        min_similarity=min_similarity,
        max_similarity=max_similarity,
        q=q,
    )
    records, total, next_cursor = service.list_records(session, f, limit=limit, cursor=cursor, order=order)
    return Page(
        items=[RecordRead.model_validate(r) for r in records], total=total or 0, next_cursor=next_cursor
    )


@router.get("/{record_id}", response_model=RecordRead)
def get_record(record_id: int, session: SessionDep) -> RecordRead:
    return RecordRead.model_validate(service.get_record(session, record_id))
