"""The dashboard's training pages: exports and training runs, and one run with its loss curve.

They extend the dashboard's base layout and reuse its filters, login and CSRF checks. The curves are drawn by
the vendored Chart.js from the run, which the page carries as escaped JSON (no inline script); while a run is
queued or running the script polls the run's API and redraws.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from app.deps import SessionDep
from app.errors import AppError
from app.export import service as exports
from app.review.pages import FormDep, csrf_refused, not_found
from app.review.rendering import extended_environment
from app.review.rendering import render as dashboard_render
from app.training import service

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
SCRIPT = HERE / "static" / "training.js"
SCRIPT_URL = "/training/assets/training.js"
ACTIVE = ("queued", "running")
LIST_LIMIT = 100
DONE_MESSAGES = {"cancel": "Cancelled. The worker stops at its next heartbeat and keeps its last checkpoint."}

router = APIRouter(include_in_schema=False)


def loss(value: Any) -> str:
    """Losses to four decimals, the precision at which runs of the same recipe differ."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "—"
    return f"{value:.4f}"


def setting(value: Any) -> str:
    """A hyperparameter or metric as the user would write it: small rates in scientific notation."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value != 0 and abs(value) < 1e-3:
        return f"{value:.1e}"
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def latest(run: Any, key: str) -> Any:
    """The final metric when the run reported one, else the curve's latest value (validation is not measured
    at every heartbeat), else the latest heartbeat's (a run listed without its curve)."""
    final = run.metrics.get("train_loss" if key == "loss" else key)
    if final is not None:
        return final
    for point in reversed(getattr(run, "curve", None) or []):
        if getattr(point, key) is not None:
            return getattr(point, key)
    return run.progress.get(key)


@functools.cache
def environment() -> Environment:
    # Base models, hyperparameters and worker names are untrusted text: the environment escapes everything.
    return extended_environment(
        TEMPLATES,
        filters={"loss": loss, "setting": setting},
        globals={"script_url": SCRIPT_URL, "latest": latest, "active_states": ACTIVE},
    )


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    return dashboard_render(
        request, template, {"nav": "training", **context}, status_code=status_code, env=environment()
    )


@router.get("/training", response_class=HTMLResponse)
def training_page(request: Request, session: SessionDep) -> HTMLResponse:
    runs, runs_total = service.list_runs(session, limit=LIST_LIMIT, before=None)
    export_rows, exports_total = exports.list_exports(session, limit=LIST_LIMIT, before=None)
    context = {
        "runs": [service.run_read(run) for run in runs],
        "runs_total": runs_total,
        "exports": export_rows,
        "exports_total": exports_total,
    }
    return render(request, "training.html", context)


def _detail(
    request: Request,
    session: SessionDep,
    run_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    run = service.run_detail(session, service.get_run(session, run_id))
    context = {
        "run": run,
        "run_json": run.model_dump_json(),
        "overrides": set(run.hyperparameters),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "error": error,
    }
    return render(request, "training_run.html", context, status_code=status_code)


@router.get("/training/{run_id:int}", response_class=HTMLResponse)
def training_run_page(request: Request, run_id: int, session: SessionDep) -> Response:
    try:
        return _detail(request, session, run_id)
    except AppError as exc:
        return not_found(request, exc)


@router.post("/training/{run_id:int}/cancel", response_model=None)
def cancel_run(request: Request, run_id: int, session: SessionDep, form: FormDep) -> Response:
    if not form.ok:
        return csrf_refused(request)
    try:
        service.cancel(session, run_id)
    except AppError as exc:
        session.rollback()
        try:
            return _detail(request, session, run_id, error=exc.message, status_code=exc.status_code)
        except AppError as missing:
            return not_found(request, missing)
    return RedirectResponse(f"/training/{run_id}?done=cancel", status_code=303)


@router.get("/training/assets/training.js")
def training_script() -> FileResponse:
    return FileResponse(SCRIPT, media_type="text/javascript", headers={"cache-control": "no-cache"})
