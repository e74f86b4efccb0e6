"""The fake teacher as an answering model and as a judge, over real HTTP through the openai client."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from app.evaluation.judging import pairwise_messages, parse_pairwise, parse_single, single_messages
from tests.fake_teacher import FakeTeacher

MODELS = ("fake-teacher", "other-model")


@pytest.fixture
def fake() -> Iterator[FakeTeacher]:
    with FakeTeacher(models=MODELS) as teacher:
        yield teacher


@pytest.fixture
def client(fake: FakeTeacher) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.base_url, api_key="any", max_retries=0, timeout=10) as api:
        yield api


def ask(client: openai.OpenAI, messages: list[dict[str, str]], model: str = "fake-teacher") -> str:
    reply = client.chat.completions.create(model=model, messages=messages, max_tokens=2000)  # type: ignore[arg-type]
    return reply.choices[0].message.content or ""


class TestAnswering:
    def test_a_question_gets_a_deterministic_answer_per_model(self, client: openai.OpenAI) -> None:
        question = [{"role": "user", "content": "How do I keep basil alive on a windowsill?"}]
        first = ask(client, question)
        assert first and "Instruction:" not in first
        assert ask(client, question) == first
        assert ask(client, question, model="other-model") != first

    def test_korean_questions_get_korean_answers(self, client: openai.OpenAI) -> None:
        answer = ask(client, [{"role": "user", "content": "김치찌개를 맛있게 끓이는 방법을 알려 주세요."}])
        assert any("\uac00" <= ch <= "\ud7a3" for ch in answer)

    def test_record_prompts_still_get_records(self, client: openai.OpenAI) -> None:
        prompt = "Make a list of 5 tasks.\n\n1. Instruction: Name a colour.\n1. Input:\n<noinput>\n1. Output:\nRed\n###\n2. Instruction:"
        assert "3. Instruction:" in ask(client, [{"role": "user", "content": prompt}])


class TestJudging:
    @pytest.mark.parametrize(
        ("policy", "verdict"), [("first", "A"), ("second", "B"), ("tie", "tie"), ("longer", "B")]
    )
    def test_pairwise_policies(
        self, fake: FakeTeacher, client: openai.OpenAI, policy: str, verdict: str
    ) -> None:
        fake.set_judge(policy)
        reply = ask(client, pairwise_messages(["Q?"], ["short"], ["a much longer answer"]))
        assert parse_pairwise(reply).verdict == verdict

    def test_garbage_and_callable_policies(self, fake: FakeTeacher, client: openai.OpenAI) -> None:
        fake.set_judge("garbage")
        assert parse_pairwise(ask(client, pairwise_messages(["Q?"], ["a"], ["b"]))).verdict is None
        fake.set_judge(lambda request: f"{request.first} vs {request.second}: [[B]]")
        reply = ask(client, pairwise_messages(["Q?", "And?"], ["one", "two"], ["three", "four"]))
        assert reply == "one\n\ntwo vs three\n\nfour: [[B]]"

    def test_single_grades(self, fake: FakeTeacher, client: openai.OpenAI) -> None:
        answer = "x" * 250
        assert parse_single(ask(client, single_messages(["Q?"], [answer]))).score == 4.0  # 1 + 250 // 80
        fake.set_grader(9)
        assert parse_single(ask(client, single_messages(["Q?"], [answer]))).score == 9.0
        fake.set_grader("garbage")
        assert parse_single(ask(client, single_messages(["Q?"], [answer]))).score is None

    def test_unknown_policies_are_refused(self, fake: FakeTeacher) -> None:
        with pytest.raises(ValueError, match="unknown judge policy"):
            fake.set_judge("loudest")
        with pytest.raises(ValueError, match="from 1 to 10"):
            fake.set_grader(11)
