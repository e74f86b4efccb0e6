"""Jinja2 with autoescaping on for every template, the filters the pages use, and the page response."""

from __future__ import annotations

import functools
import hashlib
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from app.review.security import STATE_KEY, DashboardContext

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24}h"


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def shorten(text: str | None, limit: int = 140) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def percent(part: float, whole: float) -> str:
    return "—" if not whole else f"{100 * part / whole:.0f}%"


@functools.cache
def asset_version() -> str:
    """A digest of the static files: their URLs change when they do, so browsers never run stale code."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.suffix in (".js", ".css"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: teacher text is hostile until shown otherwise
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, usd=usd, duration=duration, when=when, score=score, shorten=shorten)
    env.globals.update(percent=percent, asset_version=asset_version())
    return env


def extended_environment(
    templates: Path, *, filters: dict[str, Any] | None = None, globals: dict[str, Any] | None = None
) -> Environment:
    """A page family of its own (evaluations, training) that extends the dashboard's layout and helpers."""
    base = environment()
    assert base.loader is not None
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(templates), base.loader]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(base.filters)
    env.filters.update(filters or {})
    env.globals.update(base.globals)
    env.globals.update(globals or {})
    return env


def dashboard(request: Request) -> DashboardContext:
    context: DashboardContext = getattr(request.state, STATE_KEY)
    return context


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    env: Environment | None = None,
) -> HTMLResponse:
    security = dashboard(request)
    values = {
        "request": request,
        "path": request.url.path,
        "csrf_token": security.csrf_token,
        "login_required": security.keys.login_required,
        "logged_in": security.logged_in,
        "nav": "",
        "done": None,
        "error": None,
        **(context or {}),
    }
    html = (env or environment()).get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
