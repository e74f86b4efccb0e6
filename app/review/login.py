"""Logging in to the dashboard with PASTURE_API_TOKEN, and out again."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.deps import SettingsDep, token_is_valid
from app.review.form_guard import FormDep, csrf_refused, text_field
from app.review.rendering import dashboard, render
from app.review.security import SESSION_COOKIE, SESSION_SECONDS, cookie_header, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    security = dashboard(request)
    target = safe_next(request.query_params.get("next"))
    if not security.keys.login_required or security.logged_in:
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", {"next": target, "error": None, "nav": ""})


@router.post("/login", response_model=None)
def login(request: Request, settings: SettingsDep, form: FormDep) -> Response:
    security = dashboard(request)
    target = safe_next(text_field(form.data, "next"))
    if not security.keys.login_required:
        return RedirectResponse(target, status_code=303)
    if not form.ok:
        return csrf_refused(request)
    if not token_is_valid(settings, text_field(form.data, "token")):
        time.sleep(0.25)  # a guess costs time; the token itself is compared in constant time
        context = {"next": target, "error": "That is not this server's PASTURE_API_TOKEN.", "nav": ""}
        return render(request, "login.html", context, status_code=401)
    response = RedirectResponse(target, status_code=303)
    session_cookie = security.keys.new_session()
    response.headers.append(
        "set-cookie",
        cookie_header(SESSION_COOKIE, session_cookie, secure=security.secure, max_age=SESSION_SECONDS),
    )
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, form: FormDep) -> Response:
    if not form.ok:
        return csrf_refused(request)
    security = dashboard(request)
    response = RedirectResponse("/login" if security.keys.login_required else "/", status_code=303)
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, "", secure=security.secure, max_age=0)
    )
    return response
