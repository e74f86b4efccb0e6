"""Every query the job loop runs. Functions take a Session; the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from app import leases
from app.db import utcnow
from app.models import Job, JobStatus, Record, RecordStatus, SeedTask, TeacherCall, TeacherCallStatus

RUNNABLE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def start_job(session: Session, job_id: int, runner_id: str) -> int:
    """Mark the job running and close the calls a dead runner left in flight. Returns how many."""
    now = utcnow()
    abandoned = session.execute(
        update(TeacherCall)
        .where(TeacherCall.job_id == job_id, TeacherCall.status == TeacherCallStatus.IN_FLIGHT)
        .values(
            status=TeacherCallStatus.ABANDONED,
            error="the runner stopped before the reply arrived",
            completed_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    job = session.get(Job, job_id)
    assert job is not None
    job.requests_abandoned += abandoned
    job.status = JobStatus.RUNNING
    job.status_reason = None
    job.started_at = job.started_at or now
    return int(abandoned)


def renew_lease(session: Session, job_id: int, runner_id: str, lease: float, active: float) -> str | None:
    """Extend our lease; returns the job's status, or None when another runner owns it now."""
    if not leases.extend(session, Job, job_id, runner_id, lease, active_seconds=Job.active_seconds + active):
        return None
    return session.execute(select(Job.status).where(Job.id == job_id)).scalar_one()


def lock_owned_job(session: Session, job_id: int, runner_id: str, lease: float) -> Job | None:
    """Touch the row we own (this takes its row lock until commit) and return it, or None if lost."""
    if not leases.extend(session, Job, job_id, runner_id, lease):
        return None
    return session.get(Job, job_id, populate_existing=True)


def release(session: Session, job_id: int, runner_id: str) -> None:
    leases.release(session, Job, job_id, runner_id)


def set_status(session: Session, job_id: int, runner_id: str, status: JobStatus, reason: str | None) -> None:
    """Only moves a job that is still running (a pause or cancel from the API wins over the runner)."""
    now = utcnow()
    values: dict[str, object] = {"status": status, "status_reason": reason}
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        values["finished_at"] = now
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.runner_id == runner_id, Job.status == JobStatus.RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class KeptRecord:
    id: int
    instruction: str
    input: str
    output: str


def load_seed_tasks(session: Session, seed_set_id: int) -> list[SeedTask]:
    query = select(SeedTask).where(SeedTask.seed_set_id == seed_set_id).order_by(SeedTask.position)
    return list(session.scalars(query))


def load_kept(session: Session, job_id: int) -> list[KeptRecord]:
    rows = session.execute(
        select(Record.id, Record.instruction, Record.input, Record.output)
        .where(Record.job_id == job_id, Record.status == RecordStatus.KEPT)
        .order_by(Record.id)
        .execution_options(yield_per=5000)
    )
    return [KeptRecord(*row) for row in rows]


def create_call(
    session: Session, job_id: int, runner_id: str, *, prompt: str, examples: list[dict[str, object]]
) -> int:
    job = session.get(Job, job_id)
    assert job is not None
    call = TeacherCall(
        job_id=job_id, runner_id=runner_id, model=job.model, api=job.api, prompt=prompt, examples=examples
    )
    session.add(call)
    job.requests_sent += 1
    session.flush()
    return call.id


def mark_call_applied(session: Session, call_id: int) -> TeacherCall | None:
    call = session.get(TeacherCall, call_id, populate_existing=True)
    if call is None or call.status != TeacherCallStatus.IN_FLIGHT:
        return None
    call.status = TeacherCallStatus.APPLIED
    call.completed_at = utcnow()
    return call


def allocate_record_ids(session: Session, count: int) -> list[int]:
    """Reserve ``count`` record ids inside the caller's transaction.

    PostgreSQL draws them from the table's sequence. SQLite allows one writer at a time and the caller
    has already written in this transaction, so no one else can take ids until it commits.
    """
    if count == 0:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence('records', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        )
        return [int(row[0]) for row in rows]
    start = int(session.scalar(select(func.coalesce(func.max(Record.id), 0))) or 0) + 1
    return list(range(start, start + count))


def insert_records(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        now = utcnow()
        for row in rows:
            row.setdefault("review_status", "pending")
            row.setdefault("created_at", now)
            row.setdefault("updated_at", now)
        session.execute(insert(Record), rows)
