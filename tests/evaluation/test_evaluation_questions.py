"""Question sets: Pasture's own set, MT-bench and Vicuna files, and errors that name the line and field."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from app.evaluation.question_sets import BUILTIN_DIR
from app.evaluation.questions import QuestionFileError, parse_question_file
from tests.shared_data import shared_data_dir

SHARED_DATA = shared_data_dir()


def lines(*items: object) -> str:
    return "\n".join(item if isinstance(item, str) else json.dumps(item) for item in items) + "\n"


class TestBuiltinSet:
    def test_our_set_has_at_least_80_questions_in_eight_categories(self) -> None:
        questions = parse_question_file((BUILTIN_DIR / "pasture-questions.jsonl").read_bytes())
        assert len(questions) >= 80
        counts = Counter(q.category for q in questions)
        assert set(counts) == {
            "writing", "roleplay", "reasoning", "math", "coding", "extraction", "knowledge", "korean",
        }  # fmt: skip
        assert min(counts.values()) >= 10
        assert all(q.reference for q in questions if q.category in {"math", "coding"})
        korean = [q for q in questions if q.category == "korean"]
        assert all(any("\uac00" <= ch <= "\ud7a3" for ch in q.turns[0]) for q in korean)


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="the shared data folder is not here")
class TestPublicSets:
    def test_mt_bench_has_two_turns_and_references(self) -> None:
        questions = parse_question_file((SHARED_DATA / "mt_bench_questions.jsonl").read_bytes())
        assert len(questions) == 80
        assert all(len(q.turns) == 2 for q in questions)
        assert sum(q.reference is not None for q in questions) == 39
        assert questions[0].key == "81"

    def test_vicuna(self) -> None:
        questions = parse_question_file((SHARED_DATA / "vicuna_questions.jsonl").read_bytes())
        assert len(questions) == 80
        assert len({q.category for q in questions}) == 9


class TestParsing:
    def test_vicunas_older_text_key_is_a_single_turn(self) -> None:
        (question,) = parse_question_file(lines({"question_id": 7, "category": "Generic", "text": "Hi?"}))
        assert (question.key, question.category, question.turns, question.reference) == (
            "7",
            "generic",
            ["Hi?"],
            None,
        )

    def test_reference_may_be_a_string_or_a_list(self) -> None:
        questions = parse_question_file(
            lines(
                {"question_id": "a", "category": "math", "turns": ["1+1?"], "reference": "2"},
                {"question_id": "b", "category": "math", "turns": ["2+2?", "3+3?"], "reference": ["4", "6"]},
                "",
                {"question_id": "c", "category": "math", "turns": ["x"], "reference": None},
            )
        )
        assert [q.reference for q in questions] == [["2"], ["4", "6"], None]

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("not json", "line 2: not valid JSON"),
            ("[1, 2]", "line 2: expected a JSON object, got list"),
            (
                {"category": "x", "turns": ["q"]},
                "line 2: field 'question_id' must be a number or a non-empty string",
            ),
            ({"question_id": 2, "turns": ["q"]}, "line 2: field 'category' must be a non-empty string"),
            ({"question_id": 2, "category": "x"}, "line 2: field 'turns' is missing"),
            (
                {"question_id": 2, "category": "x", "turns": []},
                "line 2: field 'turns' must be a non-empty list",
            ),
            (
                {"question_id": 2, "category": "x", "turns": ["ok", 3]},
                "line 2: field 'turns[1]' must be a non-empty string",
            ),
            (
                {"question_id": 2, "category": "x", "turns": ["q"], "reference": ["a", "b"]},
                "line 2: field 'reference' has 2 entries",
            ),
            (
                {"question_id": 1, "category": "x", "turns": ["again"]},
                "line 2: field 'question_id' '1' repeats line 1",
            ),
        ],
    )
    def test_errors_name_the_line_and_the_field(self, line: object, message: str) -> None:
        good = {"question_id": 1, "category": "x", "turns": ["q"]}
        with pytest.raises(QuestionFileError) as raised:
            parse_question_file(lines(good, line))
        assert raised.value.message.startswith(message), raised.value.message

    def test_every_problem_is_reported(self) -> None:
        with pytest.raises(QuestionFileError) as raised:
            parse_question_file(
                lines({"question_id": 1}, "{", {"question_id": 3, "category": "x", "turns": "ok"})
            )
        assert "(and 2 more problems)" in raised.value.message
        assert raised.value.detail == [
            "line 1: field 'category' must be a non-empty string, got missing",
            "line 1: field 'turns' is missing (a list of the user's messages; or Vicuna's 'text')",
            "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        ]

    def test_empty_file(self) -> None:
        with pytest.raises(QuestionFileError, match="empty"):
            parse_question_file(b"\n \n")
