from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.deps import SessionDep, WriterDep
from app.generation import service
from app.generation.schemas import JobCreate, JobCreated, JobRead, JobUpdate
from app.models import Job
from app.schemas import Page

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


def _read(session: Session, job: Job) -> JobRead:
    return service.job_read(job, service.seed_set_names(session, [job])[job.seed_set_id])


@router.post("", status_code=201, response_model=JobCreated, dependencies=[WriterDep])
def create_job(data: JobCreate, session: SessionDep) -> JobCreated:
    """Queue a generation job; a runner picks it up within a second."""
    job = service.create_job(session, data)
    return JobCreated(id=job.id, status=job.status)


@router.get("", response_model=Page[JobRead])
def list_jobs(
    session: SessionDep, limit: int = Query(50, ge=1, le=500), cursor: str | None = None
) -> Page[JobRead]:
    jobs, total, next_cursor = service.list_jobs(session, limit=limit, cursor=cursor)
    names = service.seed_set_names(session, jobs)
    return Page(
        items=[service.job_read(j, names[j.seed_set_id]) for j in jobs], total=total, next_cursor=next_cursor
    )


@router.get("/{job_id}", response_model=JobRead)
def get_job(job_id: int, session: SessionDep) -> JobRead:
    return _read(session, service.get_job(session, job_id))


@router.patch("/{job_id}", response_model=JobRead, dependencies=[WriterDep])
def update_job(job_id: int, data: JobUpdate, session: SessionDep) -> JobRead:
    """Change a job's budget, target, concurrency or rate limits (e.g. raise the budget, then resume)."""
    return _read(session, service.update_job(session, job_id, data))


@router.post("/{job_id}/pause", response_model=JobRead, dependencies=[WriterDep])
def pause_job(job_id: int, session: SessionDep) -> JobRead:
    return _read(session, service.pause_job(session, job_id))


@router.post("/{job_id}/resume", response_model=JobRead, dependencies=[WriterDep])
def resume_job(job_id: int, session: SessionDep) -> JobRead:
    return _read(session, service.resume_job(session, job_id))


@router.post("/{job_id}/cancel", response_model=JobRead, dependencies=[WriterDep])
def cancel_job(job_id: int, session: SessionDep) -> JobRead:
    return _read(session, service.cancel_job(session, job_id))


@router.get("/{job_id}/export.jsonl", response_class=StreamingResponse)
def export_job(job_id: int, session: SessionDep) -> StreamingResponse:
    """The kept records, one JSON object a line: instruction, input, output."""
    service.get_job(session, job_id)  # 404 before the stream starts
    factory = session.get_bind()

    def lines() -> Iterator[bytes]:
        # A session of its own: the request's session closes when the endpoint returns.
        with Session(bind=factory) as stream_session:
            for row in service.iter_kept_records(stream_session, job_id):
                yield (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="job-{job_id}.jsonl"'},
    )
