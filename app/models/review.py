"""The review trail of a record (every edit, review decision and restore), and the indexes the dashboard's
record queries need."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow
from app.models.records import Record


class EditKind(enum.StrEnum):
    EDIT = "edit"  # instruction, input or output changed by hand
    REVIEW = "review"  # review_status changed (approve, reject, reset)
    RESTORE = "restore"  # a generator-rejected record moved to kept


class RecordEdit(Base):
    """One change to a record: what changed, from what, to what, when and by whom."""

    __tablename__ = "record_edits"
    __table_args__ = (Index("ix_record_edits_record_id_id", "record_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(32))  # instruction | input | output | review_status | status
    before: Mapped[str | None] = mapped_column(Text, default=None)
    after: Mapped[str | None] = mapped_column(Text, default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    actor: Mapped[str] = mapped_column(String(100), default="api")


# Indexes on ``records`` for the dashboard's filters and sort orders (see bench/records_page_bench.py).
# Declared here, next to the queries' owner, so that the metadata matches migration 0002.
#
# On SQLite a record's row holds its text and ten neighbours, so a query that has to read rows to filter or
# sort takes ~75 ms at 52K. The two "filters" indexes carry every small filter column after the sort key, so
# an id-ordered or similarity-ordered page, and its count, read only index entries.

# A literal, not a bound parameter: the planner only uses an expression index for the same expression.
SIMILARITY_SORT_KEY = func.coalesce(Record.max_similarity, literal_column("-1.0"))
"""Records never compared (rejected before the near-duplicate check) sort below every score."""

FILTER_COLUMNS = (Record.job_id, Record.review_status, Record.reason, Record.language)

Index("ix_records_status_id_filters", Record.status, Record.id, *FILTER_COLUMNS, Record.max_similarity)
Index("ix_records_status_similarity_id", Record.status, SIMILARITY_SORT_KEY, Record.id, *FILTER_COLUMNS)
Index("ix_records_similarity_id", SIMILARITY_SORT_KEY, Record.id)
Index("ix_records_job_id_id", Record.job_id, Record.id)
Index("ix_records_review_status_id", Record.review_status, Record.id)
Index("ix_records_job_status_review_id", Record.job_id, Record.status, Record.review_status, Record.id)
