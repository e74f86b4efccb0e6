"""Jobs over REST against the real server, a real database (SQLite and PostgreSQL) and the fake teacher."""

from __future__ import annotations

import json

import pytest
from rouge_score import rouge_scorer
from sqlalchemy import func, select

from app.db import make_engine, make_session_factory
from app.models import Record, TeacherCall
from tests.conftest import LiveServer, make_settings, wait_for
from tests.fake_teacher import FakeTeacher


def start_job(server: LiveServer, **payload: object) -> int:
    body = {"target": 40, "model": "fake-teacher", "records_per_request": 10, "concurrency": 4} | payload
    response = server.client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    return int(response.json()["id"])


def wait_status(server: LiveServer, job_id: int, *statuses: str, timeout: float = 60) -> dict:
    def done() -> dict | None:
        response = server.client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        return job if job["status"] in statuses else None

    return wait_for(done, timeout=timeout)


def kept_records(database_url: str, job_id: int) -> list[Record]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        rows = list(session.scalars(select(Record).where(Record.job_id == job_id, Record.status == "kept")))
    engine.dispose()
    return rows


class TestRunJob:
    def test_job_reaches_exact_target_with_tokens_equal_to_billing(
        self, live_server: LiveServer, teacher: FakeTeacher, database_url: str
    ) -> None:
        job_id = start_job(live_server, target=45, price_input_per_mtok=1.0, price_output_per_mtok=2.0)
        job = wait_status(live_server, job_id, "succeeded")
        assert job["kept"] == 45
        records = kept_records(database_url, job_id)
        assert len(records) == 45
        assert len({r.instruction for r in records}) == 45
        assert job["prompt_tokens"] == teacher.billed_prompt_tokens
        assert job["completion_tokens"] == teacher.billed_completion_tokens
        expected_cost = (teacher.billed_prompt_tokens * 1.0 + teacher.billed_completion_tokens * 2.0) / 1e6
        assert job["cost_usd"] == pytest.approx(expected_cost)
        assert job["requests_sent"] == teacher.requests
        assert job["candidates"] >= 45
        # Every kept record carries its neighbours and the call it came from.
        assert all(r.call_id is not None and isinstance(r.nearest, list) for r in records)
        assert all(r.max_similarity is not None and r.max_similarity <= 0.7 for r in records)

    def test_no_kept_pair_is_above_the_threshold(
        self, live_server: LiveServer, teacher: FakeTeacher, database_url: str
    ) -> None:
        teacher.script("duplicates", "duplicates")
        job_id = start_job(live_server, target=30, concurrency=1)
        job = wait_status(live_server, job_id, "succeeded")
        assert job["rejections"].get("near_duplicate", 0) > 0
        instructions = [r.instruction for r in kept_records(database_url, job_id)]
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        for i, a in enumerate(instructions):
            for b in instructions[:i]:
                assert scorer.score(b, a)["rougeL"].fmeasure <= 0.7

    def test_retries_429_and_500_then_succeeds(self, live_server: LiveServer, teacher: FakeTeacher) -> None:
        teacher.script("429:0.1", "500", "503")
        job_id = start_job(live_server, target=20, concurrency=1)
        job = wait_status(live_server, job_id, "succeeded")
        assert job["requests_retried"] == 3
        assert job["requests_failed"] == 0

    def test_garbage_and_truncation_are_counted_by_reason(
        self, live_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        teacher.script("garbage", "truncate", "refusal")
        job_id = start_job(live_server, target=20, concurrency=1)
        job = wait_status(live_server, job_id, "succeeded")
        assert job["rejections"].get("unparsable", 0) >= 1
        assert job["rejections"].get("truncated", 0) >= 1
        assert job["rejections"].get("refusal", 0) >= 1

    def test_completions_api(self, live_server: LiveServer, teacher: FakeTeacher) -> None:
        job_id = start_job(live_server, target=15, api="completions")
        assert wait_status(live_server, job_id, "succeeded")["kept"] == 15
        assert {e["endpoint"] for e in teacher.ledger()} == {"/v1/completions"}

    def test_korean_job_keeps_korean_records(
        self, live_server: LiveServer, teacher: FakeTeacher, database_url: str
    ) -> None:
        job_id = start_job(live_server, target=20, language="ko")
        assert wait_status(live_server, job_id, "succeeded")["kept"] == 20
        records = kept_records(database_url, job_id)
        assert all(any("\uac00" <= ch <= "\ud7a3" for ch in r.instruction) for r in records)
        assert all(r.language == "ko" for r in records)

    def test_budget_stops_the_job_and_says_so(self, live_server: LiveServer, teacher: FakeTeacher) -> None:
        job_id = start_job(
            live_server,
            target=10_000,
            concurrency=2,
            budget_usd=0.05,
            price_input_per_mtok=10,
            price_output_per_mtok=10,
            max_tokens=512,
        )
        job = wait_status(live_server, job_id, "paused")
        assert "budget_usd" in job["status_reason"]
        assert 0 < job["cost_usd"] <= 0.05
        # Raising the budget lets it go on.
        response = live_server.client.patch(
            f"/api/v1/jobs/{job_id}", json={"budget_usd": 0.2, "target": job["kept"] + 5}
        )
        assert response.status_code == 200, response.text
        assert live_server.client.post(f"/api/v1/jobs/{job_id}/resume").json()["status"] == "queued"
        assert wait_status(live_server, job_id, "succeeded", "paused")["cost_usd"] <= 0.2

    def test_export_streams_kept_records(self, live_server: LiveServer, teacher: FakeTeacher) -> None:
        job_id = start_job(live_server, target=12)
        wait_status(live_server, job_id, "succeeded")
        response = live_server.client.get(f"/api/v1/jobs/{job_id}/export.jsonl")
        assert response.status_code == 200
        rows = [json.loads(line) for line in response.text.splitlines()]
        assert len(rows) == 12
        assert all(set(row) == {"instruction", "input", "output"} for row in rows)


class TestTeacherFailures:
    def test_bad_key_fails_the_job_with_a_readable_reason(
        self, live_server: LiveServer, teacher: FakeTeacher, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PASTURE_TEST_WRONG_KEY", "sk-wrong")
        job_id = start_job(live_server, api_key_env="PASTURE_TEST_WRONG_KEY", concurrency=1)
        job = wait_status(live_server, job_id, "failed")
        assert "rejected the API key" in job["status_reason"]
        assert job["requests_retried"] == 0  # a 401 is never retried
        assert teacher.requests == 1

    def test_unknown_model_fails_fast(self, live_server: LiveServer, teacher: FakeTeacher) -> None:
        job_id = start_job(live_server, model="no-such-model")
        job = wait_status(live_server, job_id, "failed")
        assert "no-such-model" in job["status_reason"]

    def test_unreachable_teacher_fails_with_reason_and_keeps_what_it_had(
        self, live_server: LiveServer
    ) -> None:
        job_id = start_job(live_server, base_url="http://127.0.0.1:9/v1", concurrency=1)
        job = wait_status(live_server, job_id, "failed")
        assert "unreachable" in job["status_reason"]
        assert job["requests_failed"] >= 1

    def test_missing_key_env_var(self, live_server: LiveServer) -> None:
        job_id = start_job(live_server, api_key_env="PASTURE_TEST_UNSET_VARIABLE")
        job = wait_status(live_server, job_id, "failed")
        assert "PASTURE_TEST_UNSET_VARIABLE" in job["status_reason"]


class TestJobControl:
    def test_pause_resume_cancel(self, live_server: LiveServer, teacher: FakeTeacher) -> None:
        teacher.set_default("slow:0.3")
        job_id = start_job(live_server, target=2000, concurrency=2)
        wait_status(live_server, job_id, "running")
        assert live_server.client.post(f"/api/v1/jobs/{job_id}/pause").json()["status"] == "paused"
        wait_for(lambda: teacher.requests > 0)
        paused = live_server.client.get(f"/api/v1/jobs/{job_id}").json()
        assert paused["status"] == "paused"
        assert live_server.client.post(f"/api/v1/jobs/{job_id}/resume").json()["status"] == "queued"
        wait_status(live_server, job_id, "running")
        assert live_server.client.post(f"/api/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
        response = live_server.client.post(f"/api/v1/jobs/{job_id}/resume")
        assert response.status_code == 409
        assert "cancelled" in response.json()["error"]

    def test_list_jobs_paginates(self, live_server: LiveServer) -> None:
        ids = [start_job(live_server, base_url="http://127.0.0.1:9/v1", target=1) for _ in range(3)]
        first = live_server.client.get("/api/v1/jobs", params={"limit": 2}).json()
        assert first["total"] == 3
        assert [j["id"] for j in first["items"]] == ids[::-1][:2]
        second = live_server.client.get(
            "/api/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert [j["id"] for j in second["items"]] == [ids[0]]
        assert second["next_cursor"] is None


class TestBadInput:
    @pytest.mark.parametrize(
        ("payload", "status", "field"),
        [
            ({"target": 0}, 422, "target"),
            ({"target": -5}, 422, "target"),
            ({"rouge_threshold": 1.5}, 422, "rouge_threshold"),
            ({"rouge_threshold": 0}, 422, "rouge_threshold"),
            ({"language": "xx"}, 422, "language"),
            ({"seed_set": "nope"}, 404, "seed_set"),
            ({"api": "edits"}, 422, "api"),
            ({"filters": {"nonsense": 1}}, 422, "filters"),
            ({"prompt_template": "{% for x in %}"}, 422, "prompt_template"),
            ({"unexpected": 1}, 422, "unexpected"),
        ],
    )
    def test_job_errors_name_the_field(
        self, live_server: LiveServer, payload: dict, status: int, field: str
    ) -> None:
        body = {"target": 10, "model": "fake-teacher"} | payload
        response = live_server.client.post("/api/v1/jobs", json=body)
        assert response.status_code == status, response.text
        assert field in response.json()["error"]

    def test_unknown_job_is_404(self, live_server: LiveServer) -> None:
        response = live_server.client.get("/api/v1/jobs/999")
        assert response.status_code == 404
        assert response.json()["error"] == "job 999 does not exist"

    def test_bad_input_loses_nothing(
        self, live_server: LiveServer, teacher: FakeTeacher, database_url: str
    ) -> None:
        job_id = start_job(live_server, target=10)
        wait_status(live_server, job_id, "succeeded")
        assert live_server.client.post("/api/v1/jobs", json={"target": 0, "model": "m"}).status_code == 422
        assert live_server.client.get(f"/api/v1/jobs/{job_id}").json()["kept"] == 10
        assert len(kept_records(database_url, job_id)) == 10


class TestAuth:
    def test_write_endpoints_need_the_token(self, database_url: str, teacher: FakeTeacher) -> None:
        settings = make_settings(database_url, teacher, api_token="s3cret")
        with LiveServer(settings) as server:
            body = {"target": 5, "model": "fake-teacher"}
            response = server.client.post("/api/v1/jobs", json=body)
            assert response.status_code == 401
            assert "Bearer" in response.json()["error"]
            wrong = server.client.post("/api/v1/jobs", json=body, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = server.client.post("/api/v1/jobs", json=body, headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 201
            assert server.client.get("/api/v1/jobs").status_code == 200

    def test_the_key_is_never_returned(self, live_server: LiveServer, teacher: FakeTeacher) -> None:
        job_id = start_job(live_server, target=5)
        wait_status(live_server, job_id, "succeeded")
        text = (
            live_server.client.get(f"/api/v1/jobs/{job_id}").text
            + live_server.client.get("/api/v1/jobs").text
        )
        assert "sk-test-key" not in text


class TestRecordsEndpoint:
    def test_filters_and_cursor_pagination(
        self, live_server: LiveServer, teacher: FakeTeacher, database_url: str
    ) -> None:
        teacher.script("duplicates")
        job_id = start_job(live_server, target=25, concurrency=1)
        wait_status(live_server, job_id, "succeeded")
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, object] = {"job_id": job_id, "status": "kept", "limit": 7}
            if cursor:
                params["cursor"] = cursor
            page = live_server.client.get("/api/v1/records", params=params).json()
            assert page["total"] == 25
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 25
        rejected = live_server.client.get(
            "/api/v1/records", params={"job_id": job_id, "reason": "near_duplicate"}
        ).json()
        assert rejected["total"] >= 1
        assert all(item["status"] == "rejected" for item in rejected["items"])
        word = seen and live_server.client.get(f"/api/v1/records/{seen[0]}").json()["instruction"].split()[1]
        found = live_server.client.get("/api/v1/records", params={"job_id": job_id, "q": word}).json()
        assert any(word.lower() in item["instruction"].lower() for item in found["items"])

    def test_bad_cursor_is_a_clear_error(self, live_server: LiveServer) -> None:
        response = live_server.client.get("/api/v1/records", params={"cursor": "???"})
        assert response.status_code == 422
        assert "cursor" in response.json()["error"]


class TestTeacherCallsAreStored:
    def test_every_call_has_prompt_reply_tokens_and_latency(
        self, live_server: LiveServer, teacher: FakeTeacher, database_url: str
    ) -> None:
        job_id = start_job(live_server, target=10, concurrency=1)
        wait_status(live_server, job_id, "succeeded")
        engine = make_engine(database_url)
        with make_session_factory(engine)() as session:
            calls = list(session.scalars(select(TeacherCall).where(TeacherCall.job_id == job_id)))
            kept = session.scalar(select(func.count(Record.id)).where(Record.job_id == job_id))
        engine.dispose()
        assert kept and kept >= 10
        billed = {e["call_id"]: e for e in teacher.ledger()}
        for call in calls:
            assert call.status == "applied"
            assert call.prompt.rstrip().endswith("Instruction:")
            assert call.raw_reply
            assert call.latency_ms is not None and call.latency_ms > 0
            assert len(call.examples) == 3
            assert billed[call.id]["prompt_tokens"] == call.prompt_tokens
            assert billed[call.id]["completion_tokens"] == call.completion_tokens


class TestNoProgress:
    def test_a_teacher_that_only_repeats_itself_pauses_the_job(
        self, database_url: str, teacher: FakeTeacher
    ) -> None:
        with LiveServer(make_settings(database_url, teacher, max_barren_replies=3)) as server:
            teacher.set_default("garbage")
            job_id = start_job(server, target=50, concurrency=1)
            job = wait_status(server, job_id, "paused")
            assert "the last 3 replies kept no record" in job["status_reason"]
            assert "unparsable" in job["status_reason"]
            assert job["requests_sent"] == 3
