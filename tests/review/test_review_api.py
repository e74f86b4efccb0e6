"""Review over REST against the real server and a job the fake teacher fed: the actions change what the API
reports (records, history, job counters, stats)."""

from __future__ import annotations

from typing import Any

from tests.conftest import LiveServer, make_settings, wait_for
from tests.fake_teacher import FakeTeacher


def run_job(server: LiveServer, **payload: object) -> dict[str, Any]:
    body = {"target": 20, "model": "fake-teacher", "records_per_request": 10, "concurrency": 1} | payload
    response = server.client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        job = server.client.get(f"/api/v1/jobs/{job_id}").json()
        return job if job["status"] in ("succeeded", "failed") else None

    job = wait_for(finished, timeout=60)
    assert job["status"] == "succeeded", job
    return job


def records(server: LiveServer, **params: object) -> dict[str, Any]:
    response = server.client.get("/api/v1/records", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()


class TestReviewApi:
    def test_review_actions_change_what_the_api_reports(
        self, live_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        teacher.script("ok", "duplicates", "duplicates")
        job = run_job(live_server, target=15, price_input_per_mtok=1, price_output_per_mtok=1)
        client = live_server.client
        kept = records(live_server, job_id=job["id"], status="kept")["items"]
        first, second = kept[0]["id"], kept[1]["id"]

        assert (
            client.post(f"/api/v1/records/{first}/review", json={"action": "approve"}).json()["review_status"]
            == "approved"
        )
        assert client.post(f"/api/v1/records/{second}/review", json={"action": "reject"}).status_code == 200
        edited = client.patch(f"/api/v1/records/{first}", json={"output": "A better answer."})
        assert edited.status_code == 200 and edited.json()["output"] == "A better answer."
        assert client.get(f"/api/v1/records/{first}").json()["output"] == "A better answer."
        assert records(live_server, job_id=job["id"], status="kept", review_status="approved")["total"] == 1
        assert records(live_server, job_id=job["id"], status="kept", review_status="rejected")["total"] == 1

        history = client.get(f"/api/v1/records/{first}/history").json()
        assert [(h["kind"], h["field"], h["after"]) for h in history["items"]] == [
            ("review", "review_status", "approved"),
            ("edit", "output", "A better answer."),
        ]
        call = client.get(f"/api/v1/records/{first}/teacher-call").json()
        assert call["job_id"] == job["id"] and "Instruction" in call["prompt"] and call["raw_reply"]

        # Bulk: count first, then apply.
        dry = client.post(
            "/api/v1/records/bulk-review", json={"job_id": job["id"], "action": "approve", "dry_run": True}
        )
        assert dry.json() == {
            "action": "approve",
            "matched": job["kept"],
            "changed": job["kept"] - 1,
            "dry_run": True,
        }
        assert (
            records(live_server, job_id=job["id"], status="kept", review_status="pending")["total"]
            == job["kept"] - 2
        )
        done = client.post(
            "/api/v1/records/bulk-review", json={"job_id": job["id"], "action": "approve"}
        ).json()
        assert done["changed"] == job["kept"] - 1
        assert records(live_server, job_id=job["id"], status="kept", review_status="pending")["total"] == 0

        stats = client.get("/api/v1/stats", params={"job_id": job["id"]}).json()
        assert stats["totals"]["approved"] == job["kept"]
        assert stats["totals"]["kept"] == job["kept"]
        assert sum(r["count"] for r in stats["rejections"]) == sum(job["rejections"].values())

    def test_restore_moves_a_rejected_candidate_to_kept(
        self, live_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        teacher.script("ok", "duplicates", "duplicates", "duplicates")
        job = run_job(live_server, target=12)
        client = live_server.client
        duplicates = records(live_server, job_id=job["id"], status="rejected", reason="near_duplicate")[
            "items"
        ]
        assert duplicates, job["rejections"]
        record = duplicates[0]

        refused = client.post(f"/api/v1/records/{record['id']}/review", json={"action": "restore"})
        assert refused.status_code == 409
        body = refused.json()
        assert "near-duplicate" in body["error"]
        assert body["detail"]["score"] > 0.7 and body["detail"]["nearest"]["instruction"]

        client.patch(
            f"/api/v1/records/{record['id']}", json={"instruction": "Compose a sea shanty about databases."}
        )
        restored = client.post(f"/api/v1/records/{record['id']}/review", json={"action": "restore"})
        assert restored.status_code == 200, restored.text
        assert restored.json()["status"] == "kept"
        after = client.get(f"/api/v1/jobs/{job['id']}").json()
        assert after["kept"] == job["kept"] + 1
        assert after["rejections"].get("near_duplicate", 0) == job["rejections"]["near_duplicate"] - 1
        kinds = [h["kind"] for h in client.get(f"/api/v1/records/{record['id']}/history").json()["items"]]
        assert kinds == ["edit", "restore"]

    def test_errors_name_what_to_fix(self, live_server: LiveServer) -> None:
        client = live_server.client
        assert client.post("/api/v1/records/999999/review", json={"action": "approve"}).status_code == 404
        bad = client.post("/api/v1/records/1/review", json={"action": "publish"})
        assert bad.status_code == 422 and "action" in bad.json()["error"]
        empty = client.patch("/api/v1/records/1", json={})
        assert empty.status_code == 422
        assert client.get("/api/v1/stats", params={"job_id": 999999}).status_code == 404


def test_stats_and_verbs_describe_the_job(sqlite_url: str, teacher: FakeTeacher) -> None:
    with LiveServer(make_settings(sqlite_url, teacher)) as server:
        job = run_job(server, target=20)
        stats = server.client.get("/api/v1/stats", params={"job_id": job["id"]}).json()
        assert stats["totals"]["kept"] == 20
        assert sum(stats["lengths"]["instruction"]["counts"]) == 20
        assert sum(stats["similarity"]["kept"]) == 20 and stats["similarity"]["threshold"] == 0.7
        assert stats["timeline"]["points"][-1]["kept"] == 20
        assert stats["input_share"]["with_input"] + stats["input_share"]["without_input"] == 20
        verbs = server.client.get("/api/v1/stats/verbs", params={"job_id": job["id"]}).json()
        assert verbs["analysed"] == 20 and verbs["verbs"]
        assert sum(v["count"] for v in verbs["verbs"]) <= verbs["with_verb"]
        across = server.client.get("/api/v1/stats/jobs").json()
        assert [row["id"] for row in across] == [job["id"]]
