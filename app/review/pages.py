"""The dashboard's pages. Reads and writes go through the same services as the API; forms carry a CSRF token
(checked here) and the login is enforced by the security middleware."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.db import utcnow
from app.deps import SessionDep
from app.errors import AppError
from app.generation import service as jobs
from app.generation.filters import Reason
from app.generation.languages import LANGUAGES
from app.models import Job, Record, SeedSet
from app.records import service as records
from app.review import job_form, login, service
from app.review.endpoints import RestoreIndexesDep
from app.review.form_guard import FormDep, csrf_refused, text_field
from app.review.record_query import RecordQuery
from app.review.rendering import render
from app.review.security import safe_next

router = APIRouter(include_in_schema=False)
router.include_router(login.router)

PAGE_SIZE = 50
# A search that matches most records would take longer to count than to show: say "more than 1,000" instead.
SEARCH_COUNT_LIMIT = 1_000
ACTOR = "dashboard"
DONE_MESSAGES = {
    "approve": "Approved.",
    "reject": "Rejected.",
    "reset": "Back to pending.",
    "restore": "Restored: the record is kept now (and pending review).",
    "edited": "Saved. The change is in the history below.",
    "nothing": "Nothing changed.",
    "pause": "Paused. Calls already sent are still recorded.",
    "resume": "Resumed: queued for a runner.",
    "cancel": "Cancelled.",
    "created": "Job created and queued: a runner picks it up within a second.",
}
REJECTION_REASONS = sorted(v for k, v in vars(Reason).items() if k.isupper())


def _job_names(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(select(Job.id, Job.name).order_by(Job.id.desc()).limit(500))
    return [(job_id, name or f"Job {job_id}") for job_id, name in rows]


# -- jobs ----------------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def jobs_page(request: Request, session: SessionDep) -> HTMLResponse:
    items, total, _ = jobs.list_jobs(session, limit=200)
    names = jobs.seed_set_names(session, items)
    views = [jobs.job_read(job, names[job.seed_set_id]) for job in items]
    return render(request, "jobs.html", {"jobs": views, "total": total, "nav": "jobs"})


def _seed_set_choices(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(SeedSet.name, SeedSet.language, SeedSet.task_count).order_by(SeedSet.name))
    return [(name, f"{name} ({language}, {count} tasks)") for name, language, count in rows]


@router.get("/jobs/new", response_class=HTMLResponse)
def new_job_page(request: Request, session: SessionDep) -> HTMLResponse:
    sections = job_form.build_fields(_seed_set_choices(session))
    return render(request, "job_new.html", {"sections": sections, "error": None, "nav": "new"})


@router.post("/jobs/new", response_model=None)
def create_job_page(request: Request, session: SessionDep, form: FormDep) -> Response:
    if not form.ok:
        return csrf_refused(request)
    parsed = job_form.parse(form.data)
    error = None
    if parsed.data is not None:
        try:
            job = jobs.create_job(session, parsed.data)
            return RedirectResponse(f"/jobs/{job.id}?done=created", status_code=303)
        except AppError as exc:
            error = exc.message
            field, _, rest = exc.message.partition(": ")
            if field in job_form.all_field_names() and rest:
                parsed.errors[field] = rest
    sections = job_form.build_fields(_seed_set_choices(session), parsed.values, parsed.errors)
    context = {"sections": sections, "error": error or "Some fields need a fix (marked below).", "nav": "new"}
    return render(request, "job_new.html", context, status_code=422)


def _job_page(
    request: Request, session: Session, job_id: int, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    job = jobs.get_job(session, job_id)
    view = jobs.job_read(job, jobs.seed_set_names(session, [job])[job.seed_set_id])
    context = {
        "job": view,
        "review": service.review_counts(session, job_id),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "error": error,
        "nav": "jobs",
    }
    return render(request, "job_detail.html", context, status_code=status_code)


@router.get("/jobs/{job_id:int}", response_class=HTMLResponse)
def job_page(request: Request, job_id: int, session: SessionDep) -> Response:
    try:
        return _job_page(request, session, job_id)
    except AppError as exc:
        return not_found(request, exc)


@router.post("/jobs/{job_id:int}/{action}", response_model=None)
def job_action(request: Request, job_id: int, action: str, session: SessionDep, form: FormDep) -> Response:
    if not form.ok:
        return csrf_refused(request)
    actions = {"pause": jobs.pause_job, "resume": jobs.resume_job, "cancel": jobs.cancel_job}
    if action not in actions:
        return not_found(request, None)
    try:
        actions[action](session, job_id)
    except AppError as exc:
        session.rollback()
        try:
            return _job_page(request, session, job_id, error=exc.message, status_code=exc.status_code)
        except AppError as missing:
            return not_found(request, missing)
    return RedirectResponse(f"/jobs/{job_id}?done={action}", status_code=303)


@router.get("/insights", response_class=HTMLResponse)
def insights_page(request: Request, session: SessionDep) -> HTMLResponse:
    raw = request.query_params.get("job_id", "")
    job_id = int(raw) if raw.isdigit() else None
    context = {"jobs": _job_names(session), "job_id": job_id, "nav": "insights"}
    return render(request, "insights.html", context)


# -- records -------------------------------------------------------------------------------------------------
def _records_context(session: Session, query: RecordQuery) -> dict[str, Any]:
    return {
        "query": query,
        "jobs": _job_names(session),
        "reasons": REJECTION_REASONS,
        "languages": sorted(LANGUAGES),
    }


@router.get("/records", response_class=HTMLResponse)
def records_page(request: Request, session: SessionDep) -> HTMLResponse:
    started = time.perf_counter()
    query = RecordQuery.from_params(request.query_params)
    items: list[Record] = []
    total: int | None = 0
    next_cursor: str | None = None
    error = None
    try:
        items, total, next_cursor = records.list_records(
            session,
            query.filter,
            limit=PAGE_SIZE,
            cursor=query.cursor,
            order=query.order,
            sort=query.sort,
            count_limit=SEARCH_COUNT_LIMIT if query.filter.q else None,
        )
    except AppError as exc:
        error = exc.message
    db_ms = (time.perf_counter() - started) * 1000
    context = {
        **_records_context(session, query),
        "records": items,
        "total": total or 0,
        "count_capped": bool(query.filter.q) and (total or 0) >= SEARCH_COUNT_LIMIT,
        "next_url": query.url(cursor=next_cursor) if next_cursor else None,
        "first_url": query.url(cursor=None) if query.cursor else None,
        "error": error or query.error,
        "db_ms": db_ms,
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "nav": "records",
    }
    response = render(request, "records.html", context)
    total_ms = (time.perf_counter() - started) * 1000
    response.headers["Server-Timing"] = f"db;dur={db_ms:.1f}, total;dur={total_ms:.1f}"
    return response


@router.get("/records/bulk", response_class=HTMLResponse)
def bulk_confirm_page(request: Request, session: SessionDep) -> Response:
    query = RecordQuery.from_params(request.query_params)
    action = request.query_params.get("action", "")
    if action not in ("approve", "reject", "reset"):
        return RedirectResponse(query.url(), status_code=303)
    error = None
    result = None
    try:
        result = service.bulk_review(
            session, query.filter, service.ReviewAction(action), actor=ACTOR, dry_run=True
        )
    except AppError as exc:
        error = exc.message
    context = {**_records_context(session, query), "action": action, "result": result, "error": error}
    return render(request, "records_bulk.html", {**context, "nav": "records"})


@router.post("/records/bulk", response_model=None)
def bulk_apply(request: Request, session: SessionDep, form: FormDep) -> Response:
    if not form.ok:
        return csrf_refused(request)
    query = RecordQuery.from_params(form.data)
    action = text_field(form.data, "action")
    if action not in ("approve", "reject", "reset"):
        return RedirectResponse(query.url(), status_code=303)
    try:
        result = service.bulk_review(session, query.filter, service.ReviewAction(action), actor=ACTOR)
    except AppError as exc:
        context = {**_records_context(session, query), "action": action, "result": None, "error": exc.message}
        return render(
            request, "records_bulk.html", {**context, "nav": "records"}, status_code=exc.status_code
        )
    message = f"{result.changed:,} of {result.matched:,} matching kept records changed ({action})."
    return render(
        request,
        "records_bulk.html",
        {**_records_context(session, query), "action": action, "result": result, "applied": message,
         "error": None, "nav": "records"},
    )  # fmt: skip


def _record_page(
    request: Request,
    session: Session,
    record_id: int,
    *,
    error: str | None = None,
    error_detail: Any = None,
    draft: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    record = service.get_record(session, record_id)
    job = session.get(Job, record.job_id)
    call = None
    if record.call_id is not None:
        try:
            call = service.teacher_call_for(session, record_id)
        except AppError:
            call = None
    context = {
        "record": record,
        "job": job,
        "call": call,
        "neighbours": service.neighbour_links(record),
        "history": list(reversed(service.history(session, record_id))),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "error": error,
        "error_detail": error_detail if isinstance(error_detail, dict) else None,
        "draft": draft or {"instruction": record.instruction, "input": record.input, "output": record.output},
        "job_busy": job is not None and service.job_is_busy(job, utcnow()),
        "nav": "records",
    }
    return render(request, "record_detail.html", context, status_code=status_code)


@router.get("/records/{record_id:int}", response_class=HTMLResponse)
def record_page(request: Request, record_id: int, session: SessionDep) -> Response:
    try:
        return _record_page(request, session, record_id)
    except AppError as exc:
        return not_found(request, exc)


@router.post("/records/{record_id:int}/review", response_model=None)
def record_review(
    request: Request, record_id: int, session: SessionDep, form: FormDep, indexes: RestoreIndexesDep
) -> Response:
    if not form.ok:
        return csrf_refused(request)
    action = text_field(form.data, "action")
    if action not in {a.value for a in service.ReviewAction}:
        return RedirectResponse(f"/records/{record_id}", status_code=303)
    try:
        if action == service.ReviewAction.RESTORE:
            service.restore_record(session, record_id, actor=ACTOR, indexes=indexes)
        else:
            service.review_record(session, record_id, service.ReviewAction(action), actor=ACTOR)
    except AppError as exc:
        session.rollback()
        return _error_on_record(request, session, record_id, exc)
    return RedirectResponse(_back(form.data, f"/records/{record_id}?done={action}"), status_code=303)


@router.post("/records/{record_id:int}/edit", response_model=None)
def record_edit(request: Request, record_id: int, session: SessionDep, form: FormDep) -> Response:
    if not form.ok:
        return csrf_refused(request)
    changes = {name: text_field(form.data, name).replace("\r\n", "\n") for name in service.EDITABLE_FIELDS}
    try:
        before = service.history(session, record_id)
        service.edit_record(session, record_id, changes, actor=ACTOR)
        changed = len(service.history(session, record_id)) > len(before)
    except AppError as exc:
        session.rollback()
        return _error_on_record(request, session, record_id, exc, draft=changes)
    return RedirectResponse(
        f"/records/{record_id}?done={'edited' if changed else 'nothing'}", status_code=303
    )


def _error_on_record(
    request: Request, session: Session, record_id: int, exc: AppError, draft: dict[str, str] | None = None
) -> Response:
    try:
        return _record_page(
            request, session, record_id, error=exc.message, error_detail=exc.detail, draft=draft,
            status_code=exc.status_code,
        )  # fmt: skip
    except AppError as missing:
        return not_found(request, missing)


def _back(form: FormData, default: str) -> str:
    target = text_field(form, "next")
    return safe_next(target) if target else default


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, session: SessionDep) -> HTMLResponse:
    raw = request.query_params.get("job_id", "")
    job_id = int(raw) if raw.isdigit() else None
    context = {
        "jobs": _job_names(session),
        "job_id": job_id,
        "counts": service.review_counts(session, job_id),
        "nav": "review",
    }
    return render(request, "review.html", context)


def not_found(request: Request, exc: AppError | None) -> HTMLResponse:
    message = exc.message if exc is not None else "There is no such page."
    return render(request, "error.html", {"title": "Not found", "message": message}, status_code=404)
