"""The dashboard's server-rendered pages: escaping, the job form, filters, pagination and bulk confirmation."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.db import make_engine, make_session_factory
from app.generation.schemas import JobCreate
from app.review import job_form
from tests.conftest import LiveServer, make_settings
from tests.fake_teacher import FakeTeacher
from tests.review.conftest import (
    HOSTILE_INPUT,
    HOSTILE_INSTRUCTION,
    HOSTILE_JOB_NAME,
    HOSTILE_OUTPUT,
    add_record,
    make_call,
    make_job,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def server(sqlite_url: str, teacher: FakeTeacher) -> Iterator[LiveServer]:
    with LiveServer(make_settings(sqlite_url, teacher)) as live:
        yield live


def seed(url: str, build: Any) -> Any:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        result = build(session)
        session.commit()
    engine.dispose()
    return result


def hostile_job(session: Any) -> dict[str, int]:
    job = make_job(session, name=HOSTILE_JOB_NAME)
    call = make_call(session, job, prompt=f"1. Instruction: {HOSTILE_INSTRUCTION}", raw_reply=HOSTILE_OUTPUT)
    neighbour = add_record(session, job, "<b>plain neighbour</b>", call_id=call.id)
    record = add_record(
        session, job, HOSTILE_INSTRUCTION, input=HOSTILE_INPUT, output=HOSTILE_OUTPUT, call_id=call.id,
        max_similarity=0.42,
        nearest=[{"kind": "record", "id": neighbour.id, "instruction": HOSTILE_OUTPUT, "score": 0.42}]
        + [{"kind": "seed", "id": i, "instruction": f"seed <i>{i}</i>", "score": 0.1} for i in range(9)],
    )  # fmt: skip
    rejected = add_record(session, job, HOSTILE_OUTPUT, status="rejected", reason="refusal")
    return {"job": job.id, "record": record.id, "rejected": rejected.id}


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, "the page has no CSRF field"
    return html.unescape(match.group(1))


class TestEscaping:
    def test_hostile_text_is_escaped_on_every_page(self, server: LiveServer, sqlite_url: str) -> None:
        ids = seed(sqlite_url, hostile_job)
        pages = [
            "/",
            f"/jobs/{ids['job']}",
            "/records",
            "/records?status=any",
            f"/records?q={HOSTILE_INSTRUCTION[:40]}",
            f"/records/{ids['record']}",
            f"/records/{ids['rejected']}",
            f"/review?job_id={ids['job']}",
            f"/insights?job_id={ids['job']}",
            f"/records/bulk?action=approve&q=%3Cscript%3E&job_id={ids['job']}",
        ]
        for path in pages:
            response = server.client.get(path)
            assert response.status_code == 200, path
            body = response.text
            # The only scripts are the dashboard's own files; no element carries an event handler or a
            # javascript: URL; the payloads appear as text.
            assert all('src="/static/' in tag for tag in re.findall(r"<script\b[^>]*>", body)), path
            assert not re.search(r"<[^>]+\son\w+\s*=", body), path
            assert not re.search(r"(?:href|src)\s*=\s*[\"']?\s*javascript:", body, re.IGNORECASE), path
            assert "<img" not in body and "<svg" not in body and "<iframe" not in body, path
        record_page = server.client.get(f"/records/{ids['record']}").text
        assert html.escape(HOSTILE_INSTRUCTION, quote=False) in record_page.replace("&#39;", "'").replace(
            "&#34;", '"'
        )
        assert "and {{ 7 * 7 }} too." in html.unescape(record_page) and "and 49 too." not in record_page

    def test_pages_carry_a_strict_content_security_policy(self, server: LiveServer) -> None:
        response = server.client.get("/")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


class TestJobForm:
    def test_offers_every_api_option(self) -> None:
        assert job_form.all_field_names() == set(JobCreate.model_fields)

    def test_empty_state_says_how_to_start(self, server: LiveServer) -> None:
        page = server.client.get("/").text
        assert "No jobs yet" in page and 'href="/jobs/new"' in page and "OPENAI_BASE_URL" in page
        assert "/api/v1/jobs" in page

    def test_the_form_creates_the_job_the_api_would(self, server: LiveServer) -> None:
        form_page = server.client.get("/jobs/new").text
        values = {
            "csrf_token": csrf_of(form_page),
            "model": "fake-teacher", "target": "7", "name": "from the form", "language": "en", "api": "completions",
            "records_per_request": "5", "examples_per_prompt": "2", "generated_examples": "1", "temperature": "0.5",
            "top_p": "0.9", "max_tokens": "512", "seed": "3", "rouge_threshold": "0.6",
            "filters": '{"min_instruction_words": 2}', "concurrency": "2", "requests_per_minute": "600",
            "tokens_per_minute": "", "budget_usd": "1.5", "price_input_per_mtok": "0.1",
            "price_output_per_mtok": "0.2", "base_url": "", "api_key_env": "", "seed_set": "", "prompt_template": "",
        }  # fmt: skip
        response = server.client.post("/jobs/new", data=values, follow_redirects=False)
        assert response.status_code == 303, response.text
        job_id = int(response.headers["location"].split("/")[2].split("?")[0])
        job = server.client.get(f"/api/v1/jobs/{job_id}").json()
        assert job["name"] == "from the form" and job["api"] == "completions" and job["target"] == 7
        assert job["filters"] == {"min_instruction_words": 2} and job["budget_usd"] == 1.5
        assert (job["temperature"], job["top_p"], job["rouge_threshold"], job["seed"]) == (0.5, 0.9, 0.6, 3)
        assert job["tokens_per_minute"] is None and job["seed_set"] == "en"

    def test_errors_are_shown_next_to_the_fields_and_values_kept(self, server: LiveServer) -> None:
        token = csrf_of(server.client.get("/jobs/new").text)
        data = {
            "csrf_token": token,
            "model": "m<x>",
            "target": "-3",
            "filters": "{not json",
            "temperature": "9",
        }
        response = server.client.post("/jobs/new", data=data)
        assert response.status_code == 422
        page = response.text
        assert (
            'id="error-target"' in page and 'id="error-filters"' in page and 'id="error-temperature"' in page
        )
        assert 'value="m&lt;x&gt;"' in page

    def test_a_form_without_its_csrf_token_is_refused(self, server: LiveServer) -> None:
        response = server.client.post("/jobs/new", data={"model": "m", "target": "5"})
        assert response.status_code == 403
        assert server.client.get("/api/v1/jobs").json()["total"] == 0


class TestJobControls:
    def test_pause_resume_and_cancel_from_the_job_page(self, sqlite_url: str, teacher: FakeTeacher) -> None:
        job_id = seed(sqlite_url, lambda session: make_job(session, status="queued").id)
        with LiveServer(make_settings(sqlite_url, teacher, run_jobs=False)) as server:
            page = server.client.get(f"/jobs/{job_id}").text
            token = csrf_of(page)
            assert f'action="/jobs/{job_id}/pause"' in page
            for action, status in (("pause", "paused"), ("resume", "queued"), ("cancel", "cancelled")):
                response = server.client.post(f"/jobs/{job_id}/{action}", data={"csrf_token": token})
                assert (
                    response.status_code == 303
                    and response.headers["location"] == f"/jobs/{job_id}?done={action}"
                )
                assert server.client.get(f"/api/v1/jobs/{job_id}").json()["status"] == status
            refused = server.client.post(f"/jobs/{job_id}/pause", data={"csrf_token": token})
            assert refused.status_code == 409 and "cancelled" in refused.text


class TestRecordsPage:
    def test_filters_pagination_and_server_timing(self, server: LiveServer, sqlite_url: str) -> None:
        def build(session: Any) -> int:
            job = make_job(session)
            for i in range(180):
                add_record(session, job, f"Write limerick {i} about cats.", input="x" if i % 3 == 0 else "")
            return job.id

        job_id = seed(sqlite_url, build)
        first = server.client.get(f"/records?job_id={job_id}&has_input=yes")
        assert first.status_code == 200
        assert "60 records match" in first.text
        assert re.search(r"db;dur=[\d.]+, total;dur=[\d.]+", first.headers["server-timing"])
        next_url = html.unescape(re.search(r'href="([^"]+)" rel="next"', first.text).group(1))  # type: ignore[union-attr]
        assert "cursor=" in next_url and "has_input=yes" in next_url
        second = server.client.get(next_url)
        assert second.status_code == 200 and 'rel="next"' not in second.text
        shown = set(re.findall(r'href="/records/(\d+)" class="record-link', first.text + second.text))
        assert len(shown) == 60
        searched = server.client.get("/records?q=limerick+11")
        assert "limerick 11 about" in searched.text and "11 records match" in searched.text  # 11, 110-119
        bad = server.client.get("/records?min_similarity=abc&job_id=x")
        assert bad.status_code == 200 and "ignored" in bad.text

    def test_bulk_confirmation_shows_the_count_then_applies(
        self, server: LiveServer, sqlite_url: str
    ) -> None:
        def build(session: Any) -> int:
            job = make_job(session)
            for i in range(4):
                add_record(session, job, f"Suggest gift idea {i}.")
            add_record(session, job, "Dropped.", status="rejected")
            return job.id

        job_id = seed(sqlite_url, build)
        confirm = server.client.get(f"/records/bulk?action=reject&job_id={job_id}")
        assert 'data-bulk-count="4"' in confirm.text
        token = csrf_of(confirm.text)
        done = server.client.post(
            "/records/bulk", data={"csrf_token": token, "action": "reject", "job_id": str(job_id)}
        )
        assert done.status_code == 200 and "4 of 4 matching kept records changed" in done.text
        pending = server.client.get("/api/v1/records", params={"job_id": job_id, "review_status": "rejected"})
        assert pending.json()["total"] == 4

    def test_record_page_shows_neighbours_call_and_history(self, server: LiveServer, sqlite_url: str) -> None:
        ids = seed(sqlite_url, hostile_job)
        page = server.client.get(f"/records/{ids['record']}")
        token = csrf_of(page.text)
        assert page.text.count('class="badge seed"') == 9
        assert "Teacher call #" in page.text and "Raw reply" in page.text
        edit = server.client.post(
            f"/records/{ids['record']}/edit",
            data={"csrf_token": token, "instruction": "Plain now.", "input": "", "output": "Fine."},
            follow_redirects=False,
        )
        assert edit.status_code == 303 and edit.headers["location"].endswith("done=edited")
        approve = server.client.post(
            f"/records/{ids['record']}/review",
            data={"csrf_token": token, "action": "approve"},
            follow_redirects=False,
        )
        assert approve.status_code == 303
        after = server.client.get(f"/records/{ids['record']}").text
        assert (
            "Plain now." in after and "review_status" in after and "&lt;script&gt;" in after
        )  # before, in history
        restore = server.client.post(
            f"/records/{ids['rejected']}/review", data={"csrf_token": token, "action": "restore"}
        )
        assert restore.status_code in (200, 303)
