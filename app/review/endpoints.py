"""Review over REST: the same actions as the dashboard, and the aggregates its charts draw."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.deps import SessionDep, WriterDep
from app.generation.service import get_job
from app.records.schemas import RecordRead
from app.review import service, stats
from app.review.restore import RestoreIndexes
from app.review.schemas import (
    BulkReviewRead,
    BulkReviewRequest,
    JobSummaryRead,
    RecordEditRead,
    RecordEditRequest,
    ReviewRequest,
    TeacherCallRead,
)
from app.review.security import STATE_KEY, DashboardContext
from app.schemas import Page

records_router = APIRouter(prefix="/api/v1/records", tags=["review"])
stats_router = APIRouter(prefix="/api/v1/stats", tags=["stats"])

_indexes_lock = threading.Lock()


def get_restore_indexes(request: Request) -> RestoreIndexes:
    """One cache of restore indexes per application (so per database)."""
    state = request.app.state
    with _indexes_lock:
        indexes: RestoreIndexes | None = getattr(state, "restore_indexes", None)
        if indexes is None:
            indexes = RestoreIndexes()
            state.restore_indexes = indexes
    return indexes


RestoreIndexesDep = Annotated[RestoreIndexes, Depends(get_restore_indexes)]


def actor_of(request: Request) -> str:
    """Who made a change, for the history: the dashboard's logged-in session, or an API client."""
    context: DashboardContext | None = getattr(request.state, STATE_KEY, None)
    if getattr(request.state, "session_token_ok", False) or (context is not None and context.logged_in):
        return "dashboard"
    return "api"


ActorDep = Annotated[str, Depends(actor_of)]


@records_router.post("/bulk-review", response_model=BulkReviewRead, dependencies=[WriterDep])
def bulk_review(data: BulkReviewRequest, session: SessionDep, actor: ActorDep) -> BulkReviewRead:
    """Approve, reject or reset every kept record matching the filters; ``dry_run`` only counts them."""
    result = service.bulk_review(
        session, data.to_filter(), service.ReviewAction(data.action), actor=actor, dry_run=data.dry_run
    )
    return BulkReviewRead(
        action=result.action, matched=result.matched, changed=result.changed, dry_run=data.dry_run
    )


@records_router.post("/{record_id}/review", response_model=RecordRead, dependencies=[WriterDep])
def review_record(
    record_id: int, data: ReviewRequest, session: SessionDep, actor: ActorDep, indexes: RestoreIndexesDep
) -> RecordRead:
    """Approve, reject or reset a kept record, or restore a rejected one (409 with the score and the nearest
    instruction when it is still a near-duplicate, or while its job runs)."""
    action = service.ReviewAction(data.action)
    if action == service.ReviewAction.RESTORE:
        record = service.restore_record(session, record_id, actor=actor, indexes=indexes)
    else:
        record = service.review_record(session, record_id, action, actor=actor)
    return RecordRead.model_validate(record)


@records_router.patch("/{record_id}", response_model=RecordRead, dependencies=[WriterDep])
def edit_record(record_id: int, data: RecordEditRequest, session: SessionDep, actor: ActorDep) -> RecordRead:
    """Edit instruction, input or output; every changed field is kept in the record's history."""
    return RecordRead.model_validate(service.edit_record(session, record_id, data.changes(), actor=actor))


@records_router.get("/{record_id}/history", response_model=Page[RecordEditRead])
def record_history(record_id: int, session: SessionDep) -> Page[RecordEditRead]:
    """Every edit, review decision and restore of the record, oldest first."""
    items = [RecordEditRead.model_validate(e) for e in service.history(session, record_id)]
    return Page(items=items, total=len(items), next_cursor=None)


@records_router.get("/{record_id}/teacher-call", response_model=TeacherCallRead)
def record_teacher_call(record_id: int, session: SessionDep) -> TeacherCallRead:
    """The teacher call the record came from: the prompt sent and the raw reply."""
    return TeacherCallRead.model_validate(service.teacher_call_for(session, record_id))


@stats_router.get("")
def get_stats(session: SessionDep, job_id: int | None = None) -> dict[str, Any]:
    """Chart data for one job or all: totals, kept and cost over time, length histograms, ROUGE-L to the
    nearest neighbour, rejections by reason, share of records with input."""
    if job_id is not None:
        get_job(session, job_id)  # 404 for a job that does not exist
    return stats.overview(session, job_id)


@stats_router.get("/verbs")
def get_verb_stats(
    session: SessionDep,
    job_id: int | None = None,
    top: int = Query(20, ge=1, le=100),
    objects: int = Query(4, ge=0, le=20),
) -> dict[str, Any]:
    """Leading verbs of kept English instructions and their first objects (self-instruct's diversity
    chart)."""
    if job_id is not None:
        get_job(session, job_id)  # 404 for a job that does not exist
    return stats.verbs(session, job_id, top=top, objects=objects)


@stats_router.get("/jobs", response_model=list[JobSummaryRead])
def get_job_comparison(session: SessionDep, limit: int = Query(30, ge=1, le=200)) -> list[JobSummaryRead]:
    """The newest jobs side by side: kept, rejected, review outcome and cost."""
    return [JobSummaryRead.model_validate(s) for s in stats.jobs_comparison(session, limit=limit)]
