"""Evaluations over REST against the real server, a real database and the fake teacher, which plays the
candidate, the baseline and the judge over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import LiveServer
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
from tests.fake_teacher import AnswerRequest, FakeTeacher, JudgeRequest
from tests.shared_data import shared_data_dir

SHARED_DATA = shared_data_dir()

FOUR = [
    {"question_id": "q1", "category": "math", "turns": ["What is 12 * 12?"], "reference": ["144"]},
    {"question_id": "q2", "category": "math", "turns": ["What is 7 + 8?"], "reference": ["15"]},
    {"question_id": "q3", "category": "writing", "turns": ["Write a haiku about rain."]},
    {"question_id": "q4", "category": "writing", "turns": ["Describe a sunrise in one sentence."]},
]
MARKER = {CANDIDATE_MODEL: "CAND", BASELINE_MODEL: "BASE"}
# Answer lengths in words; an answer of n words has 5n - 3 characters ("CAND q1 word word ...").
WORDS = {"CAND": {"q1": 30, "q2": 10, "q3": 12, "q4": 16}, "BASE": {"q1": 10, "q2": 20, "q3": 12, "q4": 8}}
SCORES = {"CAND": {"q1": 9, "q2": 3, "q3": 6, "q4": 7}, "BASE": {"q1": 6, "q2": 7, "q3": 5, "q4": 2}}


def question_key(text: str) -> str:
    return next(q["question_id"] for q in FOUR if q["turns"][0] in text)


def scripted_answer(request: AnswerRequest) -> str:
    marker, key = MARKER[request.model], question_key(request.question)
    return " ".join([marker, key] + ["word"] * (WORDS[marker][key] - 2))


def shown(answer: str) -> tuple[str, str]:
    marker, key, *_ = answer.split()
    return marker, key


def scripted_judge(request: JudgeRequest) -> str:
    """q1: the candidate wins. q2: the baseline wins. q3: whatever is shown first (flips). q4: the candidate
    when it is shown first, a tie otherwise."""
    first, key = shown(request.first)
    if key == "q1":
        verdict = "A" if first == "CAND" else "B"
    elif key == "q2":
        verdict = "A" if first == "BASE" else "B"
    elif key == "q3":
        verdict = "A"
    else:
        verdict = "A" if first == "CAND" else "C"
    return f"Compared {first} with the other answer.\n\n[[{verdict}]]"


def scripted_grader(request: JudgeRequest) -> str:
    marker, key = shown(request.first)
    return f"Graded {marker} on {key}.\nRating: [[{SCORES[marker][key]}]]"


class TestEndToEnd:
    def test_report_matches_hand_computed_numbers(
        self, live_server: LiveServer, teacher: FakeTeacher, database_url: str
    ) -> None:
        teacher.answer = scripted_answer
        teacher.set_judge(scripted_judge)
        teacher.set_grader(scripted_grader)
        register_trio(live_server, training_run_id=7, export_id=3)
        upload_questions(live_server, "four", FOUR)
        evaluation_id = start_evaluation(live_server, question_set="four", concurrency=3, seed=11)
        evaluation = wait_evaluation(live_server, evaluation_id, "succeeded", "failed")
        assert evaluation["status"] == "succeeded", evaluation["status_reason"]
        assert evaluation["progress"] == {
            "questions": 4,
            "answers_expected": 8,
            "answers_stored": 8,
            "judgments_expected": 16,
            "judgments_done": 16,
        }

        report = live_server.client.get(f"/api/v1/evaluations/{evaluation_id}/report").json()
        assert report["complete"] is True
        assert report["candidate"] | {"base_url": None} == {
            "name": "candidate",
            "model": CANDIDATE_MODEL,
            "answered_by": "endpoint",
            "base_url": None,
            "training_run_id": 7,
            "export_id": 3,
        }
        overall = report["overall"]
        pairwise = overall["pairwise"]
        assert (pairwise["judged"], pairwise["wins"], pairwise["ties"], pairwise["losses"]) == (4, 1, 2, 1)
        assert (pairwise["win_rate"], pairwise["tie_rate"], pairwise["loss_rate"]) == (0.25, 0.5, 0.25)
        assert (pairwise["flipped"], pairwise["flip_rate"]) == (2, 0.5)
        assert (pairwise["first_shown_preferred"], pairwise["second_shown_preferred"]) == (5, 2)
        for name in ("win", "tie", "loss"):
            interval = pairwise[f"{name}_rate_ci"]
            assert interval["low"] <= pairwise[f"{name}_rate"] <= interval["high"]
        scores = overall["scores"]
        assert (scores["candidate_total"], scores["baseline_total"]) == (25.0, 20.0)
        assert scores["relative_score"] == pytest.approx(1.25)
        lengths = overall["lengths"]
        # Words: (30-10) + (10-20) + (12-12) + (16-8) = 18 over 4; characters are five times that.
        assert lengths["mean_word_difference"] == pytest.approx(4.5)
        assert lengths["mean_char_difference"] == pytest.approx(22.5)
        assert (lengths["decided_with_length_difference"], lengths["longer_answer_won"]) == (2, 2)
        math, writing = report["categories"]
        assert math["category"] == "math" and writing["category"] == "writing"
        assert (math["pairwise"]["wins"], math["pairwise"]["losses"], math["pairwise"]["flip_rate"]) == (
            1,
            1,
            0.0,
        )
        assert (writing["pairwise"]["ties"], writing["pairwise"]["flip_rate"]) == (2, 1.0)
        assert math["scores"]["relative_score"] == pytest.approx(12 / 13)
        assert writing["scores"]["relative_score"] == pytest.approx(13 / 7)

        # Judge calls are stored raw, with the tokens the judge billed and their cost at the judge's prices.
        billed = [e for e in teacher.ledger() if e["model"] == JUDGE_MODEL]
        assert len(billed) == 16
        prompt_tokens = sum(e["prompt_tokens"] for e in billed)
        completion_tokens = sum(e["completion_tokens"] for e in billed)
        costs = report["judge_costs"]
        assert (costs["calls"], costs["failed"], costs["unparsable"]) == (16, 0, 0)
        assert (costs["prompt_tokens"], costs["completion_tokens"]) == (prompt_tokens, completion_tokens)
        assert costs["cost_usd"] == pytest.approx((2 * prompt_tokens + 8 * completion_tokens) / 1e6)
        assert report["answer_costs"]["calls"] == 8
        assert teacher.max_concurrent <= 3  # the evaluation's concurrency

    def test_both_orders_are_judged_and_flips_count_as_ties(
        self, live_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        teacher.answer = scripted_answer
        teacher.set_judge(scripted_judge)
        teacher.set_grader(scripted_grader)
        register_trio(live_server)
        upload_questions(live_server, "four", FOUR)
        evaluation_id = start_evaluation(live_server, question_set="four")
        wait_evaluation(live_server, evaluation_id, "succeeded")

        judgments = all_pages(live_server, f"/api/v1/evaluations/{evaluation_id}/judgments", kind="pairwise")
        by_item = {(j["question_id"], j["target"]): j for j in judgments}
        assert len(by_item) == len(judgments) == 8
        for key in ("q1", "q2", "q3", "q4"):
            candidate_first = by_item[(key, "candidate_first")]
            baseline_first = by_item[(key, "baseline_first")]
            prompt = candidate_first["messages"][-1]["content"]
            assert prompt.index("CAND") < prompt.index("BASE")
            assert baseline_first["messages"][-1]["content"].index("BASE") < baseline_first["messages"][-1][
                "content"
            ].index("CAND")
            assert candidate_first["raw_reply"].endswith("]]")
            assert candidate_first["reference_used"] is (key in ("q1", "q2"))
        # q3: the judge said "A" both times, so the winner swapped with the order.
        assert (
            by_item[("q3", "candidate_first")]["verdict"],
            by_item[("q3", "baseline_first")]["verdict"],
        ) == ("A", "A")
        assert (
            by_item[("q3", "candidate_first")]["winner"],
            by_item[("q3", "baseline_first")]["winner"],
        ) == ("candidate", "baseline")
        writing = live_server.client.get(f"/api/v1/evaluations/{evaluation_id}/report").json()["categories"][
            1
        ]
        assert (writing["pairwise"]["wins"], writing["pairwise"]["ties"], writing["pairwise"]["losses"]) == (
            0,
            2,
            0,
        )

        singles = all_pages(live_server, f"/api/v1/evaluations/{evaluation_id}/judgments", kind="single")
        scores = {(j["question_id"], j["target"]): j["score"] for j in singles}
        assert scores == {
            (key, target): float(SCORES[marker][key])
            for key in ("q1", "q2", "q3", "q4")
            for target, marker in (("candidate", "CAND"), ("baseline", "BASE"))
        }
        assert all(j["explanation"].startswith("Graded") for j in singles)

        answers = all_pages(live_server, f"/api/v1/evaluations/{evaluation_id}/answers", role="candidate")
        assert sorted(a["question_id"] for a in answers) == ["q1", "q2", "q3", "q4"]
        assert all(a["model"] == CANDIDATE_MODEL and a["turns"][0].startswith("CAND") for a in answers)


class TestOurQuestionSet:
    def test_a_judge_that_always_prefers_the_first_answer_scores_all_ties(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        teacher.set_judge("first")
        server = sqlite_server
        sets = server.client.get("/api/v1/question-sets").json()
        ours = next(s for s in sets if s["name"] == "pasture-questions")
        assert ours["question_count"] >= 80 and ours["source"] == "builtin"
        register_trio(server)
        evaluation_id = start_evaluation(server, concurrency=16)
        evaluation = wait_evaluation(server, evaluation_id, "succeeded", "failed", timeout=60)
        assert evaluation["status"] == "succeeded", evaluation["status_reason"]
        report = server.client.get(f"/api/v1/evaluations/{evaluation_id}/report").json()
        n = ours["question_count"]
        pairwise = report["overall"]["pairwise"]
        assert (pairwise["judged"], pairwise["wins"], pairwise["ties"], pairwise["losses"]) == (n, 0, n, 0)
        assert pairwise["flip_rate"] == 1.0
        assert pairwise["first_shown_preferred"] == 2 * n
        assert len(report["categories"]) == 8
        assert all(c["pairwise"]["tie_rate"] == 1.0 for c in report["categories"])
        assert report["overall"]["scores"]["graded"] == n
        assert report["overall"]["scores"]["relative_score"] > 0


class TestBadInput:
    def test_unknown_models_and_sets_are_reported(self, sqlite_server: LiveServer) -> None:
        register_trio(sqlite_server)
        register_model(sqlite_server, "posted", answered_by="worker")
        cases: list[tuple[dict[str, Any], int, str]] = [
            (
                {"candidate": "nope"},
                404,
                "candidate: unknown model 'nope' (known: baseline, candidate, judge, posted)",
            ),
            ({"judge": "nope"}, 404, "judge: unknown model 'nope'"),
            ({"question_set": "nope"}, 404, "question set 'nope' does not exist (known: pasture-questions)"),
            ({"baseline": "candidate"}, 422, "baseline: compare the candidate with a different model"),
            ({"judge": "posted"}, 422, "judge: model 'posted' is answered by a worker"),
            ({"pairwise": False, "single": False}, 422, "pairwise and single are both off"),
        ]
        for payload, status, message in cases:
            body = {"candidate": "candidate", "baseline": "baseline", "judge": "judge"} | payload
            response = sqlite_server.client.post("/api/v1/evaluations", json=body)
            assert response.status_code == status, response.text
            assert message in response.json()["error"]
        assert sqlite_server.client.get("/api/v1/evaluations/999").status_code == 404
        assert (
            sqlite_server.client.get("/api/v1/evaluations/999/report").json()["error"]
            == "evaluation 999 does not exist"
        )
        response = sqlite_server.client.post("/api/v1/models", json={"name": "candidate", "model": "x"})
        assert response.status_code == 409
        response = sqlite_server.client.post("/api/v1/models", json={"name": "no-model"})
        assert response.status_code == 422 and "model" in response.json()["error"]

    def test_question_set_upload_errors_name_the_line_and_field(self, sqlite_server: LiveServer) -> None:
        body = "\n".join(
            [
                json.dumps({"question_id": 1, "category": "math", "turns": ["1+1?"]}),
                json.dumps({"question_id": 2, "category": "math", "turns": []}),
                "{oops",
            ]
        )
        response = sqlite_server.client.post("/api/v1/question-sets", params={"name": "broken"}, content=body)
        assert response.status_code == 422
        assert response.json()["error"].startswith("line 2: field 'turns' must be a non-empty list")
        assert response.json()["detail"][1].startswith("line 3: not valid JSON")
        assert sqlite_server.client.get("/api/v1/question-sets/broken").status_code == 404

    @pytest.mark.skipif(not SHARED_DATA.exists(), reason="the shared data folder is not here")
    def test_public_sets_upload(self, sqlite_server: LiveServer) -> None:
        for name, file in (("mt-bench", "mt_bench_questions.jsonl"), ("vicuna", "vicuna_questions.jsonl")):
            response = sqlite_server.client.post(
                "/api/v1/question-sets", params={"name": name}, content=(SHARED_DATA / file).read_bytes()
            )
            assert response.status_code == 201, response.text
            assert response.json()["question_count"] == 80
        detail = sqlite_server.client.get("/api/v1/question-sets/mt-bench").json()
        assert len(detail["questions"][0]["turns"]) == 2
        again = sqlite_server.client.post("/api/v1/question-sets", params={"name": "vicuna"}, content=b"{}")
        assert again.status_code == 409


class TestMultiTurn:
    def test_each_turn_is_asked_with_the_conversation_so_far_and_judged_whole(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        seen: list[tuple[str, tuple[tuple[str, str], ...]]] = []

        def answer(request: AnswerRequest) -> str:
            seen.append((request.model, request.messages))
            return f"{MARKER[request.model]} reply {sum(role == 'user' for role, _ in request.messages)}"

        teacher.answer = answer
        register_trio(sqlite_server, system_prompt="You are concise.")
        two_turns = [
            {
                "question_id": 81,
                "category": "writing",
                "turns": ["Write a limerick.", "Now make it rhyme less."],
            },
            {"question_id": 82, "category": "math", "turns": ["2+2?", "Times 3?"], "reference": ["", "12"]},
        ]
        upload_questions(sqlite_server, "two-turns", two_turns)
        evaluation_id = start_evaluation(sqlite_server, question_set="two-turns", single=False)
        evaluation = wait_evaluation(sqlite_server, evaluation_id, "succeeded", "failed")
        assert evaluation["status"] == "succeeded", evaluation["status_reason"]
        assert evaluation["progress"]["judgments_expected"] == 4

        second_turns = [
            messages for model, messages in seen if model == CANDIDATE_MODEL and len(messages) == 4
        ]
        assert ("system", "You are concise.") in second_turns[0]
        assert [role for role, _ in second_turns[0]] == ["system", "user", "assistant", "user"]
        assert second_turns[0][2] == ("assistant", "CAND reply 1")
        answers = all_pages(sqlite_server, f"/api/v1/evaluations/{evaluation_id}/answers", role="baseline")
        assert all(a["turns"] == ["BASE reply 1", "BASE reply 2"] for a in answers)

        judgments = all_pages(sqlite_server, f"/api/v1/evaluations/{evaluation_id}/judgments")
        math = next(j for j in judgments if j["question_id"] == "82" and j["target"] == "candidate_first")
        prompt = math["messages"][-1]["content"]
        assert "[User, turn 2]\nTimes 3?\n[Assistant A, turn 2]\nCAND reply 2" in prompt
        assert "<reference>\n[Turn 2]\n12\n</reference>" in prompt and math["reference_used"]
