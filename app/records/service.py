"""Finding records: filters, full-text search and cursor pagination."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.generation.service import decode_cursor, encode_cursor
from app.models import Record


@dataclass(frozen=True, slots=True)
class RecordFilter:
    job_id: int | None = None
    status: str | None = None  # kept | rejected
    review_status: str | None = None
    reason: str | None = None
    has_input: bool | None = None
    language: str | None = None
    min_similarity: float | None = None
    max_similarity: float | None = None
    q: str | None = None


def _apply(query: Select, f: RecordFilter) -> Select:  # type: ignore[type-arg]
    if f.job_id is not None:
        query = query.where(Record.job_id == f.job_id)
    if f.status is not None:
        query = query.where(Record.status == f.status)
    if f.review_status is not None:
        query = query.where(Record.review_status == f.review_status)
    if f.reason is not None:
        query = query.where(Record.reason == f.reason)
    if f.has_input is not None:
        query = query.where(Record.input != "") if f.has_input else query.where(Record.input == "")
    if f.language is not None:
        query = query.where(Record.language == f.language)
    if f.min_similarity is not None:
        query = query.where(Record.max_similarity >= f.min_similarity)
    if f.max_similarity is not None:
        query = query.where(Record.max_similarity <= f.max_similarity)
    if f.q:
        pattern = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Record.instruction.ilike(pattern, escape="\\"),
                Record.input.ilike(pattern, escape="\\"),
                Record.output.ilike(pattern, escape="\\"),
            )
        )
    return query


def list_records(
    session: Session,
    f: RecordFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
    order: Literal["asc", "desc"] = "asc",
    with_total: bool = True,
) -> tuple[list[Record], int | None, str | None]:
    query = _apply(select(Record), f)
    if cursor:
        last = decode_cursor(cursor)
        query = query.where(Record.id > last if order == "asc" else Record.id < last)
    query = query.order_by(Record.id.asc() if order == "asc" else Record.id.desc()).limit(limit + 1)
    records = list(session.scalars(query))
    total = session.scalar(_apply(select(func.count(Record.id)), f)) if with_total else None
    next_cursor = encode_cursor(records[limit - 1].id) if len(records) > limit else None
    return records[:limit], total, next_cursor


def get_record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"record {record_id} does not exist")
    return record
