"""Job rules: create, inspect, pause, resume, cancel. No web imports: the CLI and the dashboard reuse it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.generation.filters import build_policy
from app.generation.languages import LANGUAGES, get_language
from app.generation.prompts import validate_template
from app.generation.schemas import JobCreate, JobRead, JobUpdate
from app.models import Job, JobStatus, Record, RecordStatus, SeedSet
from app.pagination import decode_cursor, encode_cursor


class JobNotFound(NotFound):
    pass


class SeedSetNotFound(NotFound):
    pass


def _seed_set_for(session: Session, name: str | None, language: str) -> SeedSet:
    if name is None:
        seed_set = session.scalar(
            select(SeedSet).where(SeedSet.name == language, SeedSet.source == "builtin")
        )
        if seed_set is None:
            raise InvalidInput(
                f"seed_set: there is no built-in seed set for language '{language}'; upload one "
                "(POST /api/v1/seed-sets) and name it in seed_set"
            )
        return seed_set
    seed_set = session.scalar(select(SeedSet).where(SeedSet.name == name))
    if seed_set is None:
        known = ", ".join(session.scalars(select(SeedSet.name).order_by(SeedSet.name)))
        raise SeedSetNotFound(f"seed_set: unknown seed set '{name}' (known: {known or 'none'})")
    return seed_set


def create_job(session: Session, data: JobCreate) -> Job:
    language = get_language(data.language)
    if language is None:
        raise InvalidInput(
            f"language: unsupported language '{data.language}'; supported: {', '.join(sorted(LANGUAGES))}"
        )
    seed_set = _seed_set_for(session, data.seed_set, language.code)
    if data.examples_per_prompt > seed_set.task_count:
        raise InvalidInput(
            f"examples_per_prompt: {data.examples_per_prompt} is more than the {seed_set.task_count} tasks "
            f"in seed set '{seed_set.name}'"
        )
    build_policy(language.code, data.filters)  # raises on unknown or malformed overrides
    if data.prompt_template is not None:
        validate_template(data.prompt_template, language)
    if data.name is not None and session.scalar(select(Job.id).where(Job.name == data.name)) is not None:
        raise Conflict(f"name: a job named '{data.name}' already exists")
    values = data.model_dump(exclude={"seed_set", "language"})
    job = Job(**values, seed_set_id=seed_set.id, language=language.code, status=JobStatus.QUEUED)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} does not exist")
    return job


def list_jobs(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Job], int, str | None]:
    query = select(Job).order_by(Job.id.desc())
    if cursor:
        query = query.where(Job.id < decode_cursor(cursor))
    jobs = list(session.scalars(query.limit(limit + 1)))
    total = session.scalar(select(func.count(Job.id))) or 0
    next_cursor = encode_cursor(jobs[limit - 1].id) if len(jobs) > limit else None
    return jobs[:limit], total, next_cursor


def _transition(session: Session, job_id: int, allowed: set[JobStatus], to: JobStatus, verb: str) -> Job:
    job = get_job(session, job_id)
    if job.status == to:
        return job
    if job.status not in allowed:
        raise Conflict(
            f"job {job_id} is {job.status}; only a job that is {', '.join(sorted(allowed))} can be {verb}"
        )
    job.status = to
    job.status_reason = f"{verb} by request"
    if to == JobStatus.QUEUED:
        job.status_reason = None
        job.finished_at = None
    session.flush()
    return job


def pause_job(session: Session, job_id: int) -> Job:
    return _transition(session, job_id, {JobStatus.QUEUED, JobStatus.RUNNING}, JobStatus.PAUSED, "paused")


def resume_job(session: Session, job_id: int) -> Job:
    return _transition(session, job_id, {JobStatus.PAUSED, JobStatus.FAILED}, JobStatus.QUEUED, "resumed")


def cancel_job(session: Session, job_id: int) -> Job:
    allowed = {JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED, JobStatus.FAILED}
    job = _transition(session, job_id, allowed, JobStatus.CANCELLED, "cancelled")
    return job


def update_job(session: Session, job_id: int, data: JobUpdate) -> Job:
    job = get_job(session, job_id)
    changes = data.model_dump(exclude_unset=True)
    if job.status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED) and changes:
        raise Conflict(f"job {job_id} is {job.status}; it can no longer be changed")
    if "target" in changes and changes["target"] < job.kept:
        raise InvalidInput(
            f"target: the job already kept {job.kept} records; the target cannot go below that"
        )
    for key, value in changes.items():
        setattr(job, key, value)
    session.flush()
    return job


def job_read(job: Job, seed_set_name: str) -> JobRead:
    rate = job.kept / job.active_seconds * 60 if job.active_seconds > 1 and job.kept else None
    eta = None
    if rate and job.status in (JobStatus.RUNNING, JobStatus.QUEUED):
        eta = max(job.target - job.kept, 0) / rate * 60
    data: dict[str, Any] = {c: getattr(job, c) for c in JobRead.model_fields if hasattr(job, c)}
    data.update(
        seed_set=seed_set_name,
        custom_template=job.prompt_template is not None,
        records_per_minute=rate,
        eta_seconds=eta,
        rejections=dict(job.rejections or {}),
    )
    return JobRead.model_validate(data)


def seed_set_names(session: Session, jobs: list[Job]) -> dict[int, str]:
    ids = {job.seed_set_id for job in jobs}
    if not ids:
        return {}
    rows = session.execute(select(SeedSet.id, SeedSet.name).where(SeedSet.id.in_(ids)))
    return {seed_set_id: name for seed_set_id, name in rows}


def iter_kept_records(session: Session, job_id: int, *, batch: int = 2000) -> Iterator[dict[str, str]]:
    """Kept records in the order they were kept, without loading them all at once."""
    get_job(session, job_id)
    last_id = 0
    while True:
        rows = session.execute(
            select(Record.id, Record.instruction, Record.input, Record.output)
            .where(Record.job_id == job_id, Record.status == RecordStatus.KEPT, Record.id > last_id)
            .order_by(Record.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield {"instruction": row.instruction, "input": row.input, "output": row.output}
        last_id = rows[-1].id
