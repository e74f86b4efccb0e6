"""review: the edit history of records, the dashboard's record indexes and substring search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:28:22.907681

Search (``q`` on the records list) finds a substring of instruction, input or output. At 52K records a
plain ``LIKE '%...%'`` scans every row, so each backend gets a trigram index that answers the same question:

- SQLite: ``records_fts``, an FTS5 table with the ``trigram`` tokenizer over the records' text (external
  content, no copy of the text), kept in step by three triggers. A batch migration that rebuilds ``records``
  drops those triggers: such a migration must create them again (``create_sqlite_search``), and
  tests/review/test_search.py fails if they are missing at head.
- PostgreSQL: ``pg_trgm`` GIN indexes on the three columns, which serve ``ILIKE '%...%'`` directly.

Where the extension or FTS5 is not available the search still works, by scanning.
"""

from collections.abc import Sequence
import logging

import sqlalchemy as sa
from alembic import op

import app.db


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE records_fts USING fts5("
    "instruction, input, output, content='records', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN "
    "INSERT INTO records_fts(rowid, instruction, input, output) "
    "VALUES (new.id, new.instruction, new.input, new.output); END",
    "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN "
    "INSERT INTO records_fts(records_fts, rowid, instruction, input, output) "
    "VALUES ('delete', old.id, old.instruction, old.input, old.output); END",
    "CREATE TRIGGER records_fts_update AFTER UPDATE OF instruction, input, output ON records BEGIN "
    "INSERT INTO records_fts(records_fts, rowid, instruction, input, output) "
    "VALUES ('delete', old.id, old.instruction, old.input, old.output); "
    "INSERT INTO records_fts(rowid, instruction, input, output) "
    "VALUES (new.id, new.instruction, new.input, new.output); END",
    "INSERT INTO records_fts(records_fts) VALUES ('rebuild')",
)
POSTGRES_SEARCH_COLUMNS = ("instruction", "input", "output")


def create_sqlite_search() -> None:
    bind = op.get_bind()
    create_table, *rest = SQLITE_SEARCH
    try:
        bind.exec_driver_sql(create_table)
    except sa.exc.OperationalError as exc:  # SQLite built without FTS5, or older than 3.34 (no trigram)
        logger.warning("records search will scan: could not create the FTS5 trigram index (%s)", exc)
        return
    for statement in rest:
        bind.exec_driver_sql(statement)


def create_postgres_search() -> None:
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:  # not installed, or this role may not create it
        logger.warning("records search will scan: could not create the pg_trgm extension (%s)", exc)
        return
    for column in POSTGRES_SEARCH_COLUMNS:
        # fastupdate off: a search never has to scan a backlog of pending entries after a burst of inserts.
        op.create_index(
            f"ix_records_{column}_trgm", "records", [column],
            postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}, postgresql_with={"fastupdate": "off"},
        )


def upgrade() -> None:
    op.create_table('record_edits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_record_edits_record_id_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_edits'))
    )
    with op.batch_alter_table('record_edits', schema=None) as batch_op:
        batch_op.create_index('ix_record_edits_record_id_id', ['record_id', 'id'], unique=False)

    similarity = sa.text('coalesce(max_similarity, -1.0)')
    filters = ['job_id', 'review_status', 'reason', 'language']
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_status_id_filters', ['status', 'id', *filters, 'max_similarity'], unique=False)
        batch_op.create_index('ix_records_status_similarity_id', ['status', similarity, 'id', *filters], unique=False)
        batch_op.create_index('ix_records_similarity_id', [similarity, 'id'], unique=False)
        batch_op.create_index('ix_records_job_id_id', ['job_id', 'id'], unique=False)
        batch_op.create_index('ix_records_review_status_id', ['review_status', 'id'], unique=False)
        batch_op.create_index('ix_records_job_status_review_id', ['job_id', 'status', 'review_status', 'id'], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        create_sqlite_search()
    elif dialect == "postgresql":
        create_postgres_search()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("records_fts_insert", "records_fts_delete", "records_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS records_fts")
    elif dialect == "postgresql":
        for column in POSTGRES_SEARCH_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_records_{column}_trgm")

    with op.batch_alter_table('records', schema=None) as batch_op:
        for name in (
            'ix_records_job_status_review_id', 'ix_records_review_status_id', 'ix_records_job_id_id',
            'ix_records_similarity_id', 'ix_records_status_similarity_id', 'ix_records_status_id_filters',
        ):
            batch_op.drop_index(name)

    with op.batch_alter_table('record_edits', schema=None) as batch_op:
        batch_op.drop_index('ix_record_edits_record_id_id')

    op.drop_table('record_edits')
