"""The dashboard's evaluation pages: every evaluation, and one evaluation's report with its charts.

They extend the dashboard's base layout and reuse its filters, login and CSRF checks; the charts are drawn by
the vendored Chart.js from the report, which the page carries as escaped JSON (no inline script).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from app.deps import SessionDep
from app.errors import AppError
from app.evaluation import reporting, service
from app.review.pages import FormDep, csrf_refused, not_found
from app.review.rendering import extended_environment
from app.review.rendering import render as dashboard_render

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
SCRIPT = HERE / "static" / "evaluation.js"
SCRIPT_URL = "/evaluations/assets/evaluation.js"
DONE_MESSAGES = {
    "cancel": "Cancelled. Calls already sent are still recorded.",
    "resume": "Resumed: queued for a runner, which asks only for what is missing.",
}

router = APIRouter(include_in_schema=False)


def rate(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def interval(value: Any, percent: bool = True) -> str:
    """A bootstrap interval as "[low – high]"."""
    if value is None:
        return ""
    if percent:
        return f"[{rate(value.low)} – {rate(value.high)}]"
    return f"[{value.low:.2f} – {value.high:.2f}]"


def signed(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:+,.{digits}f}"


@functools.cache
def environment() -> Environment:
    # Answers and judge replies are untrusted text: the environment escapes everything.
    return extended_environment(
        TEMPLATES,
        filters={"rate": rate, "interval": interval, "signed": signed},
        globals={"script_url": SCRIPT_URL},
    )


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    return dashboard_render(
        request, template, {"nav": "evaluations", **context}, status_code=status_code, env=environment()
    )


@router.get("/evaluations", response_class=HTMLResponse)
def evaluations_page(request: Request, session: SessionDep) -> HTMLResponse:
    items, total, _ = service.list_evaluations(session, limit=100)
    rows = [
        (view, reporting.build_report(session, view.id, with_intervals=False).overall)
        for view in service.evaluation_reads(session, items)
    ]
    return render(request, "evaluations.html", {"rows": rows, "total": total})


def _detail(
    request: Request,
    session: SessionDep,
    evaluation_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    evaluation = service.evaluation_read(session, service.get_evaluation(session, evaluation_id))
    report = reporting.build_report(session, evaluation_id)
    context = {
        "evaluation": evaluation,
        "report": report,
        "report_json": report.model_dump_json(),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "error": error,
    }
    return render(request, "evaluation_detail.html", context, status_code=status_code)


@router.get("/evaluations/{evaluation_id:int}", response_class=HTMLResponse)
def evaluation_page(request: Request, evaluation_id: int, session: SessionDep) -> Response:
    try:
        return _detail(request, session, evaluation_id)
    except AppError as exc:
        return not_found(request, exc)


@router.post("/evaluations/{evaluation_id:int}/{action}", response_model=None)
def evaluation_action(
    request: Request, evaluation_id: int, action: str, session: SessionDep, form: FormDep
) -> Response:
    if not form.ok:
        return csrf_refused(request)
    actions = {"cancel": service.cancel_evaluation, "resume": service.resume_evaluation}
    if action not in actions:
        return not_found(request, None)
    try:
        actions[action](session, evaluation_id)
    except AppError as exc:
        session.rollback()
        try:
            return _detail(request, session, evaluation_id, error=exc.message, status_code=exc.status_code)
        except AppError as missing:
            return not_found(request, missing)
    return RedirectResponse(f"/evaluations/{evaluation_id}?done={action}", status_code=303)


@router.get("/evaluations/assets/evaluation.js")
def evaluation_script() -> FileResponse:
    return FileResponse(SCRIPT, media_type="text/javascript", headers={"cache-control": "no-cache"})
