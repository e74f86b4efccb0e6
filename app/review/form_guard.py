"""Posted dashboard forms and their CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from app.review.rendering import dashboard, render
from app.review.security import CSRF_FIELD


@dataclass
class CheckedForm:
    data: FormData
    ok: bool


async def checked_form(request: Request) -> CheckedForm:
    """The posted form and whether its CSRF token belongs to this browser (and session)."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    return CheckedForm(form, dashboard(request).csrf_ok(token if isinstance(token, str) else None))


FormDep = Annotated[CheckedForm, Depends(checked_form)]


def csrf_refused(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {
            "title": "This form has expired",
            "message": "The form's security token is missing or out of date (for example after logging in "
            "again or a server restart). Go back, reload the page and try again.",
        },
        status_code=403,
    )


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
