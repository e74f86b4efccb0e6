"""The dashboard's login session and CSRF protection, as one ASGI middleware.

- Every browser gets a random ``pasture_csrf`` nonce cookie (HttpOnly, SameSite=Strict). The CSRF token that
  pages put in their forms and in ``<meta name="csrf-token">`` is an HMAC of that nonce and of the login
  session, so another site can neither read it nor forge it, and it changes when the user logs in.
- When ``PASTURE_API_TOKEN`` is set, every page asks for a login. ``POST /login`` checks the token and sets
  ``pasture_session``: an expiry and a random nonce, signed with a key derived from the token by HMAC
  (HttpOnly, SameSite=Strict, Secure over https). The API's write endpoints then accept either
  ``Authorization: Bearer <token>`` or this cookie together with an ``X-CSRF-Token`` header; the middleware
  says so through ``request.state.session_token_ok`` (see ``app.deps.require_writer``).
- Page responses carry a strict Content-Security-Policy (scripts and styles from this origin only, no inline
  script), so that even a missed escape could not run a script.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings

SESSION_COOKIE = "pasture_session"
CSRF_COOKIE = "pasture_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600
STATE_KEY = "dashboard"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths that are not dashboard pages: the API (its own auth), static assets and the API's documentation.
NOT_PAGES = ("/api/", "/static/", "/docs", "/redoc", "/openapi.json")
LOGIN_PATH = "/login"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def is_page(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class DashboardKeys:
    """The server secret and what it signs.

    With a token the secret is derived from it, so sessions outlive a restart and work across processes;
    without one there is nothing to log into and a random secret suffices.
    """

    secret: bytes
    login_required: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> DashboardKeys:
        if settings.api_token is None:
            return cls(secret=secrets.token_bytes(32), login_required=False)
        token = settings.api_token.get_secret_value().encode()
        secret = hmac.new(token, b"pasture dashboard v1", hashlib.sha256).digest()
        return cls(secret=secret, login_required=True)

    def _sign(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest())

    def new_session(self, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
        payload = f"{expires}.{secrets.token_urlsafe(24)}"
        return f"{payload}.{self._sign('session', payload)}"

    def read_session(self, cookie: str | None, now: float | None = None) -> str | None:
        """The session's nonce when the cookie is ours and unexpired, else None."""
        if not cookie or cookie.count(".") != 2:
            return None
        expires, nonce, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign("session", f"{expires}.{nonce}")):
            return None
        if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
            return None
        return nonce

    def csrf_token(self, csrf_nonce: str, session_nonce: str | None) -> str:
        return self._sign("csrf", f"{csrf_nonce}.{session_nonce or ''}")

    def csrf_ok(self, presented: str | None, csrf_nonce: str | None, session_nonce: str | None) -> bool:
        if not presented or not csrf_nonce:
            return False
        return hmac.compare_digest(presented, self.csrf_token(csrf_nonce, session_nonce))


@dataclass(slots=True)
class DashboardContext:
    """What the middleware learned about one request; pages read it from ``request.state.dashboard``."""

    keys: DashboardKeys
    csrf_nonce: str | None
    session_nonce: str | None
    secure: bool

    @property
    def logged_in(self) -> bool:
        return self.session_nonce is not None

    @property
    def csrf_token(self) -> str:
        return self.keys.csrf_token(self.csrf_nonce or "", self.session_nonce)

    def csrf_ok(self, presented: str | None) -> bool:
        return self.keys.csrf_ok(presented, self.csrf_nonce, self.session_nonce)


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another origin."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 0x20 for ch in target):
        return "/"
    return target


class DashboardSecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.keys = DashboardKeys.from_settings(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        path: str = scope["path"]
        page = is_page(path)
        cookies = conn.cookies
        csrf_nonce = cookies.get(CSRF_COOKIE)
        if csrf_nonce is not None and not _NONCE.match(csrf_nonce):
            csrf_nonce = None
        fresh_nonce = None
        if csrf_nonce is None and page:
            csrf_nonce = fresh_nonce = secrets.token_urlsafe(24)
        session_nonce = None
        if self.keys.login_required:
            session_nonce = self.keys.read_session(cookies.get(SESSION_COOKIE))
        secure = conn.url.scheme == "https"
        context = DashboardContext(self.keys, csrf_nonce, session_nonce, secure)
        state = scope.setdefault("state", {})
        state[STATE_KEY] = context
        if scope["method"] not in SAFE_METHODS and session_nonce is not None:
            state["session_token_ok"] = context.csrf_ok(conn.headers.get(CSRF_HEADER))

        if self.keys.login_required and page and session_nonce is None and path != LOGIN_PATH:
            target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
            if scope["method"] not in SAFE_METHODS:
                target = "/"
            response = RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303)
            wrapped = self._wrap_send(send, page=True, fresh_nonce=fresh_nonce, secure=secure)
            await response(scope, receive, wrapped)
            return
        wrapped = self._wrap_send(send, page=page, fresh_nonce=fresh_nonce, secure=secure)
        await self.app(scope, receive, wrapped)

    @staticmethod
    def _wrap_send(send: Send, *, page: bool, fresh_nonce: str | None, secure: bool) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if page:
                    for name, value in PAGE_HEADERS.items():
                        if name not in headers:
                            headers[name] = value
                else:
                    headers.setdefault("x-content-type-options", "nosniff")
                if fresh_nonce is not None:
                    headers.append("set-cookie", cookie_header(CSRF_COOKIE, fresh_nonce, secure=secure))
            await send(message)

        return wrapped
