from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import update

from app.db import make_engine, make_session_factory
from app.export.formats import split_of, to_row
from app.models import Record
from tests.conftest import LiveServer
from tests.factories import make_job, make_records, numbered_texts
from tests.shared_data import shared_data_dir

SHARED = shared_data_dir()


def seed(database_url: str, texts: list[tuple[str, str, str]], review_status: str = "approved") -> int:
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        job = make_job(session)
        make_records(session, job, texts, review_status=review_status)
        job_id = job.id
    engine.dispose()
    return job_id


def export(server: LiveServer, **payload: object) -> dict:
    response = server.client.post("/api/v1/exports", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


class TestFormats:
    def test_rows(self) -> None:
        assert to_row("alpaca", "Do X.", "ctx", "done") == {
            "instruction": "Do X.",
            "input": "ctx",
            "output": "done",
        }
        assert to_row("sharegpt", "Do X.", "ctx", "done") == {
            "conversations": [{"from": "human", "value": "Do X.\n\nctx"}, {"from": "gpt", "value": "done"}]
        }
        assert to_row("messages", "Do X.", "", "done") == {
            "messages": [{"role": "user", "content": "Do X."}, {"role": "assistant", "content": "done"}]
        }

    def test_split_is_a_function_of_the_text(self) -> None:
        assert split_of("a", "b", 0.5) == split_of("a", "b", 0.5)
        shares = sum(split_of(f"instruction {i}", "", 0.1) == "validation" for i in range(5000)) / 5000
        assert 0.08 < shares < 0.12
        assert split_of("anything", "", 0.0) == "train"


class TestExportEndpoints:
    @pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "messages"])
    def test_download_matches_sha256_in_each_format(
        self, live_server: LiveServer, database_url: str, fmt: str
    ) -> None:
        seed(database_url, numbered_texts(200))
        created = export(live_server, format=fmt, validation_ratio=0.1)
        assert created["record_count"] + created["validation_count"] == 200
        body = live_server.client.get(f"/api/v1/exports/{created['id']}.jsonl")
        assert body.status_code == 200
        assert hashlib.sha256(body.content).hexdigest() == created["sha256"]
        rows = [json.loads(line) for line in body.text.splitlines()]
        assert len(rows) == created["record_count"]
        key = {"alpaca": "instruction", "sharegpt": "conversations", "messages": "messages"}[fmt]
        assert all(key in row for row in rows)
        validation = live_server.client.get(f"/api/v1/exports/{created['id']}/validation.jsonl")
        assert hashlib.sha256(validation.content).hexdigest() == created["validation_sha256"]
        assert len(validation.text.splitlines()) == created["validation_count"] > 0

    def test_etag_and_not_modified(self, live_server: LiveServer, database_url: str) -> None:
        seed(database_url, numbered_texts(5))
        created = export(live_server)
        first = live_server.client.get(f"/api/v1/exports/{created['id']}.jsonl")
        assert first.headers["etag"] == f'"{created["sha256"]}"'
        again = live_server.client.get(
            f"/api/v1/exports/{created['id']}.jsonl", headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304

    def test_only_approved_records_by_default(self, live_server: LiveServer, database_url: str) -> None:
        seed(database_url, numbered_texts(10), review_status="approved")
        seed(database_url, numbered_texts(7, start=100), review_status="pending")
        assert export(live_server, validation_ratio=0)["record_count"] == 10
        both = export(live_server, validation_ratio=0, review_status=["approved", "pending"])
        assert both["record_count"] == 17

    def test_snapshot_is_immutable(self, live_server: LiveServer, database_url: str) -> None:
        seed(database_url, numbered_texts(20))
        created = export(live_server, validation_ratio=0)
        before = live_server.client.get(f"/api/v1/exports/{created['id']}.jsonl").content
        engine = make_engine(database_url)
        with make_session_factory(engine).begin() as session:
            session.execute(update(Record).values(output="changed later"))
        engine.dispose()
        after = live_server.client.get(f"/api/v1/exports/{created['id']}.jsonl").content
        assert before == after
        assert b"changed later" not in after

    def test_split_is_stable_when_the_set_grows(self, live_server: LiveServer, database_url: str) -> None:
        seed(database_url, numbered_texts(300))
        first = export(live_server, validation_ratio=0.2)
        seed(database_url, numbered_texts(300, start=300))
        second = export(live_server, validation_ratio=0.2)

        def validation_instructions(export_id: int) -> set[str]:
            text = live_server.client.get(f"/api/v1/exports/{export_id}/validation.jsonl").text
            return {json.loads(line)["instruction"] for line in text.splitlines()}

        old = validation_instructions(first["id"])
        new = validation_instructions(second["id"])
        assert old and old <= new
        assert len(new) > len(old)

    def test_manifest_and_card(self, live_server: LiveServer, database_url: str) -> None:
        job_id = seed(database_url, numbered_texts(12))
        created = export(live_server, validation_ratio=0)
        manifest = created["manifest"]
        assert manifest["counts"]["train"] == 12
        assert manifest["jobs"][0]["id"] == job_id
        assert manifest["prompt_template"]["eos"] is True
        assert manifest["sha256"] == created["sha256"]
        card = live_server.client.get(f"/api/v1/exports/{created['id']}/card.md")
        assert card.status_code == 200
        assert created["sha256"] in card.text
        assert "dataset_info.json" in card.text

    def test_decontamination_drops_near_copies_of_evaluation_prompts(
        self, live_server: LiveServer, database_url: str
    ) -> None:
        eval_prompts = [
            "How can I improve my time management skills?",
            "What are the main causes of climate change?",
        ]
        texts = [
            *numbered_texts(30),
            ("How can I improve my time management skills at work?", "", "Plan."),
            ("What are the main causes of climate change today?", "", "Emissions."),
        ]
        seed(database_url, texts)
        created = export(live_server, validation_ratio=0, decontaminate_texts=eval_prompts)
        assert created["decontaminated"] == 2
        assert created["record_count"] == 30
        assert created["manifest"]["decontamination"]["dropped"] == 2

    def test_decontamination_against_the_shared_vicuna_questions(
        self, live_server: LiveServer, database_url: str
    ) -> None:
        path = SHARED / "vicuna_questions.jsonl"
        if not path.exists():
            pytest.skip("../shared/data is absent (it holds the Vicuna questions used here)")
        questions = [json.loads(line)["turns"][0] for line in path.read_text().splitlines()]
        leaked = [(q, "", "answer") for q in questions[:5]]
        seed(database_url, numbered_texts(20) + leaked)
        created = export(live_server, validation_ratio=0, decontaminate_texts=questions)
        assert created["decontaminated"] == 5

    def test_no_matching_records_is_a_clear_error(self, live_server: LiveServer) -> None:
        response = live_server.client.post("/api/v1/exports", json={"format": "alpaca"})
        assert response.status_code == 422
        assert "approve records" in response.json()["error"]

    def test_unknown_export_is_404(self, live_server: LiveServer) -> None:
        assert live_server.client.get("/api/v1/exports/99.jsonl").status_code == 404
        assert live_server.client.get("/api/v1/exports/99").json()["error"] == "export 99 does not exist"
