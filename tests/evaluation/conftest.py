"""Evaluation fixtures: one fake server plays the candidate, the baseline and the judge, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, make_settings, wait_for
from tests.fake_teacher import FakeTeacher

CANDIDATE_MODEL = "candidate-7b"
BASELINE_MODEL = "baseline-7b"
JUDGE_MODEL = "judge-large"


@pytest.fixture
def teacher() -> Iterator[FakeTeacher]:
    models = ("fake-teacher", CANDIDATE_MODEL, BASELINE_MODEL, JUDGE_MODEL)
    with FakeTeacher(api_key="sk-test-key", models=models) as fake:
        yield fake


@pytest.fixture
def sqlite_server(sqlite_url: str, teacher: FakeTeacher) -> Iterator[LiveServer]:
    """The live server on SQLite only, for scenarios whose SQL the two-backend tests already cover."""
    with LiveServer(make_settings(sqlite_url, teacher)) as server:
        yield server


def register_model(server: LiveServer, name: str, **fields: Any) -> dict[str, Any]:
    response = server.client.post("/api/v1/models", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def register_trio(server: LiveServer, **candidate: Any) -> None:
    """candidate, baseline and judge, all served by the fake teacher (OPENAI_BASE_URL)."""
    register_model(server, "candidate", model=CANDIDATE_MODEL, **candidate)
    register_model(server, "baseline", model=BASELINE_MODEL)
    register_model(server, "judge", model=JUDGE_MODEL, price_input_per_mtok=2.0, price_output_per_mtok=8.0)


def upload_questions(server: LiveServer, name: str, questions: list[dict[str, Any]]) -> dict[str, Any]:
    body = "\n".join(json.dumps(q, ensure_ascii=False) for q in questions)
    response = server.client.post(
        "/api/v1/question-sets",
        params={"name": name},
        content=body.encode(),
        headers={"content-type": "application/jsonl"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def start_evaluation(server: LiveServer, **payload: Any) -> int:
    body = {"candidate": "candidate", "baseline": "baseline", "judge": "judge"} | payload
    response = server.client.post("/api/v1/evaluations", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def wait_evaluation(
    server: LiveServer, evaluation_id: int, *statuses: str, timeout: float = 30
) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        response = server.client.get(f"/api/v1/evaluations/{evaluation_id}")
        assert response.status_code == 200, response.text
        evaluation = response.json()
        return evaluation if evaluation["status"] in statuses else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result


def all_pages(server: LiveServer, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = server.client.get(
            path, params={**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
