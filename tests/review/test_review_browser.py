"""The dashboard in real headless Chromium (Debian's package): a job from the form with live progress, the
review flow (edit, approve, reject, bulk, restore), the keyboard queue, charts, hostile records and login.

Screenshots land in test-artifacts/review/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.db import make_engine, make_session_factory
from tests.conftest import LiveServer, make_settings, wait_for
from tests.fake_teacher import FakeTeacher
from tests.review.conftest import (
    ARTIFACTS,
    HOSTILE_INPUT,
    HOSTILE_INSTRUCTION,
    HOSTILE_JOB_NAME,
    HOSTILE_OUTPUT,
    add_record,
    make_call,
    make_job,
)

pytestmark = pytest.mark.browser
TOKEN = "browser-test-token"


class Dashboard:
    def __init__(self, server: LiveServer, teacher: FakeTeacher, url: str) -> None:
        self.server, self.teacher, self.database_url = server, teacher, url

    @property
    def api(self) -> Any:
        return self.server.client

    def run_job(self, **payload: object) -> dict[str, Any]:
        body = {"target": 20, "model": "fake-teacher", "records_per_request": 10, "concurrency": 1} | payload
        job_id = self.api.post("/api/v1/jobs", json=body).json()["id"]
        return self.wait_job(job_id)

    def wait_job(self, job_id: int) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            job = self.api.get(f"/api/v1/jobs/{job_id}").json()
            return job if job["status"] in ("succeeded", "failed") else None

        return wait_for(done, timeout=60)

    def records(self, **params: object) -> dict[str, Any]:
        return self.api.get("/api/v1/records", params={"limit": 500, **params}).json()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Dashboard]:
    path = tmp_path_factory.mktemp("browser") / "pasture.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    with FakeTeacher(api_key="sk-test-key") as teacher, LiveServer(make_settings(url, teacher)) as server:
        yield Dashboard(server, teacher, url)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.problems = []  # script errors and CSP reports: a blocked inline script would show up here
    tab.on(
        "console",
        lambda m: tab.problems.append(m.text) if m.type == "error" and not expected(m.text) else None,
    )
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    yield tab
    context.close()


def unlabelled(page: Any) -> list[str]:
    """Form controls that a screen reader could not name."""
    return list(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
                 .filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.name || e.id)"""
        )
    )


def expected(message: str) -> bool:
    """Chromium logs every 4xx page as an error; a refused restore answers 409 on purpose."""
    return message.startswith("Failed to load resource: the server responded with a status of 409")


def shot(page: Any, name: str) -> None:
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky top bar would otherwise land mid-page
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def charts_drawn(page: Any) -> dict[str, int]:
    """Each chart canvas of the page and how many data points Chart.js drew on it."""
    page.wait_for_selector("[data-charts][data-charts-ready=true]")
    return dict(
        page.evaluate(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-charts] canvas[data-chart]'))
                 .map(c => { const ch = Chart.getChart(c);
                             if (c.dataset.emptyShown) return [c.dataset.chart, 0];
                             const points = ch && c.width > 0 ? ch.data.datasets.reduce((n, d) => n + d.data.length, 0) : -1;
                             return [c.dataset.chart, points]; }))"""
        )
    )


def test_a_first_job_from_the_form_with_live_progress_and_charts(dashboard: Dashboard, page: Any) -> None:
    page.goto(dashboard.server.url + "/")
    page.get_by_role("heading", name="No jobs yet").wait_for()
    shot(page, "01-empty-state")
    page.get_by_role("link", name="Start a first job").click()
    page.get_by_label("Teacher model").fill("fake-teacher")
    page.get_by_label("Target").fill("30")
    page.get_by_label("Records per request").fill("10")
    page.get_by_label("Concurrency").fill("1")
    page.get_by_label("Name", exact=True).fill("from the browser")
    dashboard.teacher.script("slow:0.4", "slow:0.4", "slow:0.4", "duplicates")
    assert not unlabelled(page)
    shot(page, "02-new-job-form")
    page.get_by_role("button", name="Start the job").click()
    page.wait_for_url("**/jobs/*?done=created")
    # The page is never reloaded: the status and the counters change by polling.
    page.wait_for_function(
        "() => document.querySelector('[data-job-field=status]').textContent === 'succeeded'", timeout=60_000
    )
    assert page.locator("[data-job-field=kept]").first.text_content() == "30"
    drawn = charts_drawn(page)
    assert len(drawn) == 8 and all(points >= 0 for points in drawn.values()), drawn
    for name in ("timeline", "similarity", "length-instruction", "length-output", "input-share", "verbs"):
        assert drawn[name] > 0, drawn
    shot(page, "03-job-detail")
    page.goto(dashboard.server.url + "/insights")
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-jobs-chart]'); return c && Chart.getChart(c); }"
    )
    charts_drawn(page)
    shot(page, "04-insights")
    assert not page.problems


def test_the_review_flow(dashboard: Dashboard, page: Any) -> None:
    dashboard.teacher.script("ok", "duplicates", "duplicates", "duplicates")
    job = dashboard.run_job(target=15, name="review flow")
    base = dashboard.server.url
    page.goto(f"{base}/records?job_id={job['id']}")
    assert not unlabelled(page)
    shot(page, "05-records")
    page.locator("a.record-link").first.click()
    record_id = int(page.url.rsplit("/", 1)[1].split("?")[0])

    # Edit: history keeps when, before and after.
    original = dashboard.api.get(f"/api/v1/records/{record_id}").json()["output"]
    page.locator("details#edit summary").click()
    page.get_by_label("Output", exact=True).fill("Edited in the browser.")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved. The change is in the history below.").wait_for()
    assert dashboard.api.get(f"/api/v1/records/{record_id}").json()["output"] == "Edited in the browser."
    assert page.locator(".history pre").nth(0).text_content() == original

    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Approved.").wait_for()
    assert dashboard.api.get(f"/api/v1/records/{record_id}").json()["review_status"] == "approved"
    page.get_by_role("button", name="Reject").click()
    page.get_by_text("Rejected.", exact=True).wait_for()
    assert dashboard.api.get(f"/api/v1/records/{record_id}").json()["review_status"] == "rejected"
    shot(page, "06-record")

    # Bulk: the count comes first, then the change.
    pending = dashboard.records(job_id=job["id"], status="kept", review_status="pending")["total"]
    page.goto(f"{base}/records?job_id={job['id']}&review_status=pending")
    page.get_by_role("link", name="Approve all matching…").click()
    assert page.locator("[data-bulk-count]").get_attribute("data-bulk-count") == str(pending)
    shot(page, "07-bulk-confirm")
    page.get_by_role("button", name=f"Approve {pending} records").click()
    page.get_by_text(f"{pending} of {pending} matching kept records changed").wait_for()
    assert dashboard.records(job_id=job["id"], status="kept", review_status="pending")["total"] == 0

    # Restore: refused while it is a near-duplicate, accepted once edited to be distinct.
    page.goto(f"{base}/records?job_id={job['id']}&status=rejected&reason=near_duplicate")
    page.locator("a.record-link").first.click()
    duplicate_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_role("button", name="Restore").click()
    page.get_by_text("is still a near-duplicate").wait_for()
    shot(page, "08-restore-refused")
    page.locator("details#edit summary").click() if not page.locator("details#edit[open]").count() else None
    page.get_by_label("Instruction", exact=True).fill(
        "Draft a friendly note inviting neighbours to a street fair."
    )
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("button", name="Restore").click()
    page.get_by_text("Restored: the record is kept now").wait_for()
    restored = dashboard.api.get(f"/api/v1/records/{duplicate_id}").json()
    assert restored["status"] == "kept"
    after = dashboard.api.get(f"/api/v1/jobs/{job['id']}").json()
    assert after["kept"] == job["kept"] + 1
    assert after["rejections"]["near_duplicate"] == job["rejections"]["near_duplicate"] - 1
    shot(page, "09-restored")
    assert not page.problems


def test_the_review_queue_by_keyboard(dashboard: Dashboard, page: Any) -> None:
    job = dashboard.run_job(target=10, name="queue")
    ids = [r["id"] for r in dashboard.records(job_id=job["id"], status="kept", order="asc")["items"]]
    page.goto(f"{dashboard.server.url}/review?job_id={job['id']}")
    page.wait_for_selector("[data-review-queue][data-ready=true]")
    assert page.locator("[data-queue-title]").text_content() == f"Record {ids[0]}"
    assert not unlabelled(page)
    shot(page, "10-review-queue")
    page.keyboard.press("a")
    page.get_by_text(f"Approved record {ids[0]}.").wait_for()
    page.keyboard.press("r")
    page.get_by_text(f"Rejected record {ids[1]}.").wait_for()
    page.keyboard.press("k")
    assert page.locator("[data-queue-title]").text_content() == f"Record {ids[1]}"
    page.keyboard.press("e")
    page.locator("#q-output").fill("Rewritten from the queue.")
    page.keyboard.press("Control+Enter")
    page.get_by_text(f"Saved record {ids[1]}.").wait_for()
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.locator("[data-queue-title]").text_content() == f"Record {ids[3]}"
    statuses = {r["id"]: r for r in dashboard.records(job_id=job["id"], status="kept")["items"]}
    assert statuses[ids[0]]["review_status"] == "approved"
    assert statuses[ids[1]]["review_status"] == "rejected"
    assert statuses[ids[1]]["output"] == "Rewritten from the queue."
    assert statuses[ids[2]]["review_status"] == "pending"
    assert not page.problems


def test_hostile_records_render_as_text(dashboard: Dashboard, page: Any) -> None:
    engine = make_engine(dashboard.database_url)
    with make_session_factory(engine)() as session:
        job = make_job(session, name=HOSTILE_JOB_NAME)
        call = make_call(session, job, prompt=HOSTILE_INSTRUCTION, raw_reply=HOSTILE_OUTPUT)
        record = add_record(
            session, job, HOSTILE_INSTRUCTION, input=HOSTILE_INPUT, output=HOSTILE_OUTPUT, call_id=call.id,
            max_similarity=0.3, nearest=[{"kind": "record", "id": 1, "instruction": HOSTILE_OUTPUT, "score": 0.3}],
        )  # fmt: skip
        session.commit()
        job_id, record_id = job.id, record.id
    engine.dispose()
    base = dashboard.server.url
    for path in ("/", f"/jobs/{job_id}", f"/records?job_id={job_id}", f"/review?job_id={job_id}",
                 f"/insights?job_id={job_id}", f"/records?q={HOSTILE_INSTRUCTION[:30]}", f"/records/{record_id}"):  # fmt: skip
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => window.__pwned") is None, path
    assert page.locator("[data-field=instruction]").text_content() == HOSTILE_INSTRUCTION
    assert page.locator("[data-field=input]").text_content() == HOSTILE_INPUT
    assert page.locator("[data-field=output]").text_content() == HOSTILE_OUTPUT
    assert page.locator("[data-call=raw_reply]").text_content() == HOSTILE_OUTPUT
    assert page.locator("a[href^='javascript'], [onerror], [onload], [onmouseover]").count() == 0
    shot(page, "11-hostile-record")
    page.goto(f"{base}/review?job_id={job_id}")
    page.wait_for_selector("[data-review-queue][data-ready=true]")
    assert page.locator('[data-show="output"]').text_content() == HOSTILE_OUTPUT
    page.keyboard.press("a")  # the queue renders the next record with textContent too
    assert page.evaluate("() => window.__pwned") is None
    assert not page.problems


def test_login_with_the_api_token(browser: Any, sqlite_url: str, teacher: FakeTeacher) -> None:
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        record_id = add_record(session, make_job(session), "Name a river in Korea.").id
        session.commit()
    engine.dispose()
    with LiveServer(make_settings(sqlite_url, teacher, api_token=TOKEN)) as server:
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        tab.goto(server.url + "/review")
        tab.wait_for_url("**/login?next=/review")
        tab.get_by_label("API token").fill("wrong")
        tab.get_by_role("button", name="Log in").click()
        tab.get_by_text("That is not this server's PASTURE_API_TOKEN.").wait_for()
        tab.get_by_label("API token").fill(TOKEN)
        shot(tab, "12-login")
        tab.get_by_role("button", name="Log in").click()
        tab.wait_for_selector("[data-review-queue][data-ready=true]")
        (cookie,) = [c for c in context.cookies() if c["name"] == "pasture_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        tab.keyboard.press("a")  # an API write with the session cookie and the CSRF header
        tab.get_by_text(f"Approved record {record_id}.").wait_for()
        assert server.client.get(f"/api/v1/records/{record_id}").json()["review_status"] == "approved"
        context.close()
