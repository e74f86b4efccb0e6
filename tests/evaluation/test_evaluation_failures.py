"""Bad endpoints, unreadable verdicts, answers a worker posts, cancelling, and a runner that dies mid-way:
reported, not crashed on, and nothing already stored is lost or asked for twice."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from app.db import make_engine, make_session_factory, unit_of_work
from app.evaluation import model_registry, question_sets, service
from app.evaluation.runner import EvaluationRunner
from app.evaluation.schemas import EvaluationCreate, ModelCreate
from app.models import Evaluation, EvaluationAnswer, Judgment
from tests.conftest import LiveServer, make_settings, wait_for
from tests.evaluation.conftest import (
    BASELINE_MODEL,
    CANDIDATE_MODEL,
    JUDGE_MODEL,
    all_pages,
    register_model,
    register_trio,
    start_evaluation,
    upload_questions,
    wait_evaluation,
)
from tests.evaluation.test_evaluations_api import (
    FOUR,
    JudgeRequest,
    scripted_answer,
    scripted_grader,
    scripted_judge,
)
from tests.fake_teacher import FakeTeacher


def answers_by_model(teacher: FakeTeacher) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in teacher.ledger():
        if entry["status"] == 200:
            counts[entry["model"]] = counts.get(entry["model"], 0) + 1
    return counts


class TestUnreachableEndpoints:
    def test_unreachable_candidate_fails_readably_keeps_answers_and_resumes(
        self, live_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        register_trio(live_server, base_url="http://127.0.0.1:9/v1")
        upload_questions(live_server, "four", FOUR)
        evaluation_id = start_evaluation(live_server, question_set="four", concurrency=2)
        evaluation = wait_evaluation(live_server, evaluation_id, "failed", "succeeded")
        assert evaluation["status"] == "failed"
        assert "the candidate 'candidate'" in evaluation["status_reason"]
        assert "http://127.0.0.1:9/v1 is unreachable" in evaluation["status_reason"]
        assert evaluation["answer_calls_failed"] == 4
        kept = all_pages(live_server, f"/api/v1/evaluations/{evaluation_id}/answers")
        assert sorted((a["role"], a["question_id"]) for a in kept) == [
            ("baseline", k) for k in ("q1", "q2", "q3", "q4")
        ]
        assert answers_by_model(teacher) == {BASELINE_MODEL: 4}

        # Point the candidate at a server that answers, resume: only what is missing is asked for.
        response = live_server.client.patch("/api/v1/models/candidate", json={"base_url": teacher.base_url})
        assert response.status_code == 200, response.text
        assert (
            live_server.client.post(f"/api/v1/evaluations/{evaluation_id}/resume").json()["status"]
            == "queued"
        )
        evaluation = wait_evaluation(live_server, evaluation_id, "succeeded", "failed")
        assert evaluation["status"] == "succeeded", evaluation["status_reason"]
        assert answers_by_model(teacher) == {BASELINE_MODEL: 4, CANDIDATE_MODEL: 4, JUDGE_MODEL: 16}
        assert len(all_pages(live_server, f"/api/v1/evaluations/{evaluation_id}/answers")) == 8


class TestModelProblems:
    def test_a_model_the_server_does_not_know_fails_fast(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        register_model(sqlite_server, "candidate", model="no-such-model")
        register_model(sqlite_server, "baseline", model=BASELINE_MODEL)
        register_model(sqlite_server, "judge", model=JUDGE_MODEL)
        upload_questions(sqlite_server, "four", FOUR)
        evaluation = wait_evaluation(
            sqlite_server, start_evaluation(sqlite_server, question_set="four"), "failed"
        )
        assert "does not know model 'no-such-model'" in evaluation["status_reason"]

    def test_a_judge_key_variable_that_is_not_set(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        register_model(sqlite_server, "candidate", model=CANDIDATE_MODEL)
        register_model(sqlite_server, "baseline", model=BASELINE_MODEL)
        register_model(sqlite_server, "judge", model=JUDGE_MODEL, api_key_env="PASTURE_TEST_UNSET_JUDGE_KEY")
        upload_questions(sqlite_server, "four", FOUR)
        evaluation = wait_evaluation(
            sqlite_server, start_evaluation(sqlite_server, question_set="four"), "failed"
        )
        assert "the judge 'judge'" in evaluation["status_reason"]
        assert "PASTURE_TEST_UNSET_JUDGE_KEY" in evaluation["status_reason"]
        assert evaluation["progress"]["answers_stored"] == 8  # the answers are kept for a resume


class TestUnparsableVerdicts:
    def test_are_stored_raw_counted_and_left_out_of_the_numbers(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        def judge(request: JudgeRequest) -> str:
            return "Both are lovely in their own way." if "q2" in request.first else scripted_judge(request)

        def grader(request: JudgeRequest) -> str:
            return "Rating: [[12]]" if request.first.startswith("CAND q3") else scripted_grader(request)

        teacher.answer = scripted_answer
        teacher.set_judge(judge)
        teacher.set_grader(grader)
        register_trio(sqlite_server)
        upload_questions(sqlite_server, "four", FOUR)
        evaluation_id = start_evaluation(sqlite_server, question_set="four")
        evaluation = wait_evaluation(sqlite_server, evaluation_id, "succeeded", "failed")
        assert evaluation["status"] == "succeeded", evaluation["status_reason"]
        assert evaluation["judge_unparsable"] == 3
        unparsable = all_pages(
            sqlite_server, f"/api/v1/evaluations/{evaluation_id}/judgments", status="unparsable"
        )
        assert sorted((j["question_id"], j["target"]) for j in unparsable) == [
            ("q2", "baseline_first"),
            ("q2", "candidate_first"),
            ("q3", "candidate"),
        ]
        assert all(
            j["raw_reply"] and j["problem"] and j["winner"] is None and j["score"] is None for j in unparsable
        )
        assert "outside the scale" in next(j["problem"] for j in unparsable if j["kind"] == "single")
        report = sqlite_server.client.get(f"/api/v1/evaluations/{evaluation_id}/report").json()
        assert report["judge_costs"]["unparsable"] == 3
        pairwise = report["overall"]["pairwise"]
        assert (pairwise["judged"], pairwise["wins"], pairwise["ties"], pairwise["losses"]) == (3, 1, 2, 0)
        scores = report["overall"]["scores"]
        assert (scores["graded"], scores["candidate_total"], scores["baseline_total"]) == (3, 19.0, 15.0)


class TestPostedAnswers:
    def test_a_worker_posts_the_candidates_answers_then_the_judging_runs(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        register_model(
            sqlite_server, "candidate", answered_by="worker", model="run-12-adapter", training_run_id=12
        )
        register_model(sqlite_server, "baseline", model=BASELINE_MODEL)
        register_model(sqlite_server, "judge", model=JUDGE_MODEL)
        upload_questions(sqlite_server, "four", FOUR)
        evaluation_id = start_evaluation(sqlite_server, question_set="four")
        evaluation = wait_evaluation(sqlite_server, evaluation_id, "waiting")
        assert f"/api/v1/evaluations/{evaluation_id}/answers" in evaluation["status_reason"]
        assert evaluation["progress"]["answers_stored"] == 4  # the baseline's, asked for meanwhile
        waiting = sqlite_server.client.get("/api/v1/evaluations", params={"status": "waiting"}).json()
        assert [e["id"] for e in waiting["items"]] == [evaluation_id]

        url = f"/api/v1/evaluations/{evaluation_id}/answers"
        bad = [
            {"question_id": "q9", "model_name": "candidate", "answer": "x"},
            {"question_id": "q1", "model_name": "baseline", "answer": "x"},
            {"question_id": "q1", "model_name": "candidate", "answer": ["x", "y"]},
        ]
        response = sqlite_server.client.post(url, json={"answers": bad})
        assert response.status_code == 422
        assert response.json()["detail"] == [
            "answers[0].question_id: no question 'q9' in this evaluation's set",
            "answers[1].model_name: 'baseline' is answered by its endpoint; Pasture asks it itself",
            "answers[2].answer: question 'q1' has 1 turns, the answer has 2",
        ]
        first = {
            "answers": [
                {"question_id": k, "model_name": "candidate", "answer": f"posted {k}"} for k in ("q1", "q2")
            ]
        }
        posted = sqlite_server.client.post(url, json=first).json()
        assert posted == {
            "stored": 2,
            "already_stored": [],
            "missing": {"candidate": 2, "baseline": 0},
            "status": "waiting",
        }
        rest = {
            "answers": [
                {"question_id": k, "model_name": "candidate", "answer": [f"posted {k}"]}
                for k in ("q2", "q3", "q4")
            ]
        }
        posted = sqlite_server.client.post(url, json=rest).json()
        assert posted == {
            "stored": 2,
            "already_stored": ["q2"],
            "missing": {"candidate": 0, "baseline": 0},
            "status": "queued",
        }

        evaluation = wait_evaluation(sqlite_server, evaluation_id, "succeeded", "failed")
        assert evaluation["status"] == "succeeded", evaluation["status_reason"]
        answers = all_pages(sqlite_server, url, role="candidate")
        assert {a["source"] for a in answers} == {"worker"} and {a["model"] for a in answers} == {
            "run-12-adapter"
        }
        report = sqlite_server.client.get(f"/api/v1/evaluations/{evaluation_id}/report").json()
        assert report["candidate"]["training_run_id"] == 12
        assert report["overall"]["pairwise"]["judged"] == 4
        assert CANDIDATE_MODEL not in answers_by_model(teacher)


class TestCancel:
    def test_cancel_stops_and_sticks(self, sqlite_server: LiveServer, teacher: FakeTeacher) -> None:
        teacher.set_default("slow:0.3")
        register_trio(sqlite_server)
        upload_questions(sqlite_server, "four", FOUR)
        evaluation_id = start_evaluation(sqlite_server, question_set="four", concurrency=1)
        wait_evaluation(sqlite_server, evaluation_id, "running")
        response = sqlite_server.client.post(f"/api/v1/evaluations/{evaluation_id}/cancel")
        assert response.json()["status"] == "cancelled"
        wait_for(
            lambda: (
                sqlite_server.client.get(f"/api/v1/evaluations/{evaluation_id}").json()["status"]
                == "cancelled"
            )
        )
        requests = teacher.requests
        asyncio.run(asyncio.sleep(0.5))
        assert teacher.requests <= requests + 1  # at most the call that was in flight
        again = sqlite_server.client.post(f"/api/v1/evaluations/{evaluation_id}/resume")
        assert again.status_code == 409 and "cancelled" in again.json()["error"]


class TestCrash:
    def test_a_runner_that_dies_mid_way_is_continued_without_repeats(
        self, database_url: str, teacher: FakeTeacher
    ) -> None:
        teacher.latency = (0.02, 0.05)
        settings = make_settings(database_url, teacher, lease_seconds=0.6)
        engine = make_engine(database_url)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            for name, model in (
                ("candidate", CANDIDATE_MODEL),
                ("baseline", BASELINE_MODEL),
                ("judge", JUDGE_MODEL),
            ):
                model_registry.create_model(session, ModelCreate(name=name, model=model))
            questions = [
                {
                    "question_id": i,
                    "category": "writing" if i % 2 else "math",
                    "turns": [f"Question number {i}?"],
                }
                for i in range(12)
            ]
            data = "\n".join(json.dumps(q) for q in questions).encode()
            question_sets.upload_question_set(session, name="twelve", data=data)
            evaluation_id = service.create_evaluation(
                session,
                EvaluationCreate(
                    candidate="candidate", baseline="baseline", judge="judge", question_set="twelve"
                ),
            ).id

        def judged() -> int:
            with unit_of_work(factory) as session:
                return session.scalar(select(func.count(Judgment.id))) or 0

        async def crash_then_recover() -> None:
            doomed = EvaluationRunner(factory, settings, runner_id="doomed")
            task = asyncio.create_task(doomed.run(asyncio.Event()))
            while await asyncio.to_thread(judged) < 10:
                await asyncio.sleep(0.02)
            # Die without a word: no status, no release; the lease has to run out.
            for running in doomed.running.values():
                running.cancel()
            task.cancel()
            await asyncio.gather(task, *doomed.running.values(), return_exceptions=True)
            await EvaluationRunner(factory, settings, only_evaluation_id=evaluation_id).run(asyncio.Event())

        asyncio.run(asyncio.wait_for(crash_then_recover(), timeout=40))

        with unit_of_work(factory) as session:
            evaluation = session.get(Evaluation, evaluation_id)
            assert evaluation is not None
            assert evaluation.status == "succeeded", evaluation.status_reason
            answers = list(
                session.scalars(
                    select(EvaluationAnswer).where(EvaluationAnswer.evaluation_id == evaluation_id)
                )
            )
            judgments = list(session.scalars(select(Judgment).where(Judgment.evaluation_id == evaluation_id)))
        engine.dispose()
        assert len(answers) == len({(a.role, a.question_id) for a in answers}) == 24
        assert len(judgments) == len({(j.question_id, j.kind, j.target) for j in judgments}) == 48
        assert evaluation.judge_calls == 48 and evaluation.answers_stored == 24
        assert evaluation.prompt_tokens == sum(a.prompt_tokens for a in answers) + sum(
            j.prompt_tokens for j in judgments
        )
        # Only the calls in flight when the runner died were paid for and not kept.
        lost = teacher.requests - len(answers) - len(judgments)
        assert 0 <= lost <= 4


@pytest.mark.parametrize("name", ["pasture-questions"])
def test_builtin_set_is_listed_with_its_questions(sqlite_server: LiveServer, name: str) -> None:
    detail = sqlite_server.client.get(f"/api/v1/question-sets/{name}").json()
    assert detail["source"] == "builtin" and len(detail["questions"]) == detail["question_count"] >= 80
    assert {"question_id", "category", "turns", "reference"} <= set(detail["questions"][0])
