"""Login, session cookie and CSRF protection of the dashboard, with and without PASTURE_API_TOKEN."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from app.db import make_engine, make_session_factory
from app.review.security import DashboardKeys, safe_next
from tests.conftest import LiveServer, make_settings
from tests.fake_teacher import FakeTeacher
from tests.review.conftest import add_record, make_job

TOKEN = "s3cret-token-for-tests"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def guarded(sqlite_url: str, teacher: FakeTeacher) -> Iterator[LiveServer]:
    with LiveServer(make_settings(sqlite_url, teacher, api_token=TOKEN)) as live:
        yield live


def a_record(url: str) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        record = add_record(session, make_job(session), "Name two planets.")
        session.commit()
        record_id = record.id
    engine.dispose()
    return record_id


def log_in(server: LiveServer, client: httpx2.Client | None = None, **headers: str) -> httpx2.Response:
    client = client or server.client
    page = client.get("/login", params={"next": "/records"})
    token = html.unescape(CSRF_FIELD.search(page.text).group(1))  # type: ignore[union-attr]
    data = {"csrf_token": token, "token": TOKEN, "next": "/records"}
    return client.post("/login", data=data, headers=headers, follow_redirects=False)


def set_cookies(response: httpx2.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


class TestLogin:
    def test_pages_ask_for_a_login_but_the_static_files_and_api_reads_do_not(
        self, guarded: LiveServer
    ) -> None:
        response = guarded.client.get("/records?job_id=3", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/records%3Fjob_id%3D3"
        assert guarded.client.get("/login").status_code == 200
        assert guarded.client.get("/static/pasture.css").status_code == 200
        assert guarded.client.get("/api/v1/records").status_code == 200

    def test_a_wrong_token_is_refused(self, guarded: LiveServer) -> None:
        page = guarded.client.get("/login")
        token = html.unescape(CSRF_FIELD.search(page.text).group(1))  # type: ignore[union-attr]
        response = guarded.client.post(
            "/login", data={"csrf_token": token, "token": "guess"}, follow_redirects=False
        )
        assert response.status_code == 401 and "pasture_session" not in set_cookies(response)

    def test_the_login_form_needs_its_csrf_token(self, guarded: LiveServer) -> None:
        response = guarded.client.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert response.status_code == 403

    def test_the_session_cookie_is_http_only_strict_and_secure_over_https(self, guarded: LiveServer) -> None:
        response = log_in(guarded)
        assert response.status_code == 303 and response.headers["location"] == "/records"
        cookie = set_cookies(response)["pasture_session"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        assert guarded.client.get("/records", follow_redirects=False).status_code == 200
        with httpx2.Client(base_url=guarded.url) as other:
            behind_tls = log_in(guarded, other, **{"X-Forwarded-Proto": "https"})
            assert "Secure" in set_cookies(behind_tls)["pasture_session"]

    def test_a_forged_or_expired_session_is_ignored(self, guarded: LiveServer) -> None:
        keys = DashboardKeys.from_settings(guarded.settings)
        forged = keys.new_session()[:-2] + "xx"
        expired = keys.new_session(now=0)
        for cookie in (forged, expired, "1.2.3", "garbage"):
            with httpx2.Client(base_url=guarded.url, cookies={"pasture_session": cookie}) as client:
                assert client.get("/", follow_redirects=False).status_code == 303

    def test_next_never_leaves_the_site(self) -> None:
        for target in ("//evil.example", "https://evil.example/", "/\\evil", "/ok\r\nSet-Cookie: x=1"):
            assert safe_next(target) == "/"
        assert safe_next("/records?job_id=2") == "/records?job_id=2"

    def test_logout_ends_the_session(self, guarded: LiveServer) -> None:
        log_in(guarded)
        page = guarded.client.get("/").text
        token = html.unescape(CSRF_FIELD.search(page).group(1))  # type: ignore[union-attr]
        response = guarded.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert response.headers["location"] == "/login"
        assert "Max-Age=0" in set_cookies(response)["pasture_session"]


class TestCsrf:
    def test_api_writes_take_the_session_only_with_the_csrf_header(
        self, guarded: LiveServer, sqlite_url: str
    ) -> None:
        record_id = a_record(sqlite_url)
        log_in(guarded)
        page = guarded.client.get("/review").text
        token = html.unescape(CSRF_META.search(page).group(1))  # type: ignore[union-attr]
        url = f"/api/v1/records/{record_id}/review"
        assert guarded.client.post(url, json={"action": "approve"}).status_code == 401
        assert (
            guarded.client.post(url, json={"action": "approve"}, headers={"X-CSRF-Token": "nope"}).status_code
            == 401
        )
        approved = guarded.client.post(url, json={"action": "approve"}, headers={"X-CSRF-Token": token})
        assert approved.status_code == 200 and approved.json()["review_status"] == "approved"
        history = guarded.client.get(f"/api/v1/records/{record_id}/history").json()["items"]
        assert history[-1]["actor"] == "dashboard"

    def test_bearer_tokens_still_work_without_a_session(self, guarded: LiveServer, sqlite_url: str) -> None:
        record_id = a_record(sqlite_url)
        with httpx2.Client(base_url=guarded.url) as client:
            url = f"/api/v1/records/{record_id}/review"
            assert client.post(url, json={"action": "reject"}).status_code == 401
            response = client.post(
                url, json={"action": "reject"}, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert response.status_code == 200

    def test_a_logged_in_form_post_needs_the_csrf_token(self, guarded: LiveServer, sqlite_url: str) -> None:
        record_id = a_record(sqlite_url)
        log_in(guarded)
        response = guarded.client.post(f"/records/{record_id}/review", data={"action": "approve"})
        assert response.status_code == 403
        stale = guarded.client.post(
            f"/records/{record_id}/review", data={"action": "approve", "csrf_token": "x"}
        )
        assert stale.status_code == 403
        assert guarded.client.get(f"/api/v1/records/{record_id}").json()["review_status"] == "pending"

    def test_without_a_token_forms_still_carry_csrf(self, sqlite_url: str, teacher: FakeTeacher) -> None:
        record_id = a_record(sqlite_url)
        with LiveServer(make_settings(sqlite_url, teacher)) as server:
            first = server.client.get("/")
            cookie = set_cookies(first)["pasture_csrf"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            refused = server.client.post(f"/records/{record_id}/review", data={"action": "approve"})
            assert refused.status_code == 403
            token = html.unescape(CSRF_FIELD.search(server.client.get(f"/records/{record_id}").text).group(1))  # type: ignore[union-attr]
            with httpx2.Client(
                base_url=server.url
            ) as stranger:  # another browser: its own nonce, not this token
                assert (
                    stranger.post(
                        f"/records/{record_id}/review", data={"action": "approve", "csrf_token": token}
                    ).status_code
                    == 403
                )
            done = server.client.post(
                f"/records/{record_id}/review",
                data={"action": "approve", "csrf_token": token},
                follow_redirects=False,
            )
            assert done.status_code == 303


def test_keys_are_derived_from_the_token(sqlite_url: str) -> None:
    settings: Any = make_settings(sqlite_url, api_token=TOKEN)
    assert DashboardKeys.from_settings(settings).secret == DashboardKeys.from_settings(settings).secret
    session = DashboardKeys.from_settings(settings).new_session()
    assert (
        DashboardKeys.from_settings(make_settings(sqlite_url, api_token="other")).read_session(session)
        is None
    )
