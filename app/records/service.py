"""Finding records: filters, substring search, sort orders and cursor pagination."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, false, func, or_, select, text, tuple_
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.models import Record
from app.models.review import SIMILARITY_SORT_KEY
from app.pagination import decode_cursor, encode_cursor

Sort = Literal["id", "similarity"]
SORTS: tuple[str, ...] = ("id", "similarity")

# The trigram index (SQLite FTS5 or PostgreSQL pg_trgm, migration 0002) only helps from three characters on.
TRIGRAM = 3


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


def _sqlite_has_search_index(session: Session) -> bool:
    found = session.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records_fts'"))
    return found.first() is not None


def search_condition(session: Session, q: str) -> ColumnElement[bool]:
    """Records whose instruction, input or output contains ``q`` (case-insensitive).

    On SQLite the FTS5 trigram table answers it (a quoted phrase matches as a substring); shorter queries and
    databases without that table fall back to a scan with LIKE (case-insensitive for ASCII there, like
    ``lower()``, without the copies). PostgreSQL's ILIKE uses the pg_trgm indexes by itself from three
    characters on.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite and len(q) >= TRIGRAM and _sqlite_has_search_index(session):
        phrase = '"' + q.replace('"', '""') + '"'
        matches = text("SELECT rowid FROM records_fts WHERE records_fts MATCH :search_phrase").bindparams(
            search_phrase=phrase
        )
        return Record.id.in_(matches.columns(rowid=Record.id.type))
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    columns = (Record.instruction, Record.input, Record.output)
    if sqlite:
        return or_(*(column.like(pattern, escape="\\") for column in columns))
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def apply_filter(query: Select[Any], f: RecordFilter, session: Session | None = None) -> Select[Any]:
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
    if f.min_similarity is not None and f.max_similarity is not None and f.min_similarity > f.max_similarity:
        query = query.where(false())
    if f.q:
        if session is None:
            raise ValueError("a search needs the session (it picks the backend's index)")
        query = query.where(search_condition(session, f.q))
    return query


def _encode_sort_cursor(value: float, record_id: int) -> str:
    raw = json.dumps([value, record_id], separators=(",", ":"))  # repr round-trips the float exactly
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_sort_cursor(cursor: str) -> tuple[float, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, record_id = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        return float(value), int(record_id)
    except (ValueError, TypeError, UnicodeDecodeError):
        message = "cursor: not a cursor this API returned for this sort; start again without it"
        raise InvalidInput(message) from None


def count_records(session: Session, f: RecordFilter, *, limit: int | None = None) -> int:
    """How many records match; with ``limit``, counting stops there (the answer is then at most ``limit``)."""
    if limit is None:
        return session.scalar(apply_filter(select(func.count(Record.id)), f, session)) or 0
    capped = apply_filter(select(Record.id), f, session).limit(limit).subquery()
    return session.scalar(select(func.count()).select_from(capped)) or 0


def list_records(
    session: Session,
    f: RecordFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
    order: Literal["asc", "desc"] = "asc",
    with_total: bool = True,
    sort: Sort = "id",
    count_limit: int | None = None,
) -> tuple[list[Record], int | None, str | None]:
    """One page of records and the cursor of the next.

    ``sort="similarity"`` orders by the ROUGE-L score to the nearest neighbour (never-compared records count
    as -1), then id. ``count_limit`` stops counting there, for pages that only say "more than N".
    """
    # Ids first, then the rows: a sort or a filter then touches narrow index entries, never wide rows (each
    # record carries its text and ten neighbours).
    ids = apply_filter(select(Record.id), f, session)
    ordering: tuple[Any, ...]
    if sort == "similarity":
        key: Any = SIMILARITY_SORT_KEY
        if cursor:
            value, last_id = _decode_sort_cursor(cursor)
            row, after = tuple_(key, Record.id), tuple_(value, last_id)
            ids = ids.where(row > after if order == "asc" else row < after)
        ordering = (key.asc(), Record.id.asc()) if order == "asc" else (key.desc(), Record.id.desc())
    else:
        if cursor:
            last = decode_cursor(cursor)
            ids = ids.where(Record.id > last if order == "asc" else Record.id < last)
        ordering = (Record.id.asc(),) if order == "asc" else (Record.id.desc(),)
    page = ids.order_by(*ordering).limit(limit + 1).subquery()
    records = list(session.scalars(select(Record).join(page, Record.id == page.c.id).order_by(*ordering)))
    total = count_records(session, f, limit=count_limit) if with_total else None
    next_cursor = None
    if len(records) > limit:
        last_record = records[limit - 1]
        if sort == "similarity":
            score = last_record.max_similarity if last_record.max_similarity is not None else -1.0
            next_cursor = _encode_sort_cursor(score, last_record.id)
        else:
            next_cursor = encode_cursor(last_record.id)
    return records[:limit], total, next_cursor


def get_record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"record {record_id} does not exist")
    return record
