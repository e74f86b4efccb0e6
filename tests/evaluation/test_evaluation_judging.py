"""Judge prompts render from the template files; verdicts parse tolerantly, and say why when they do not."""

from __future__ import annotations

import pytest

from app.evaluation.judging import pairwise_messages, parse_pairwise, parse_single, single_messages


class TestPrompts:
    def test_pairwise_shows_both_conversations_and_asks_for_a_bracketed_verdict(self) -> None:
        system, user = pairwise_messages(["Plan a trip.", "Make it cheaper."], ["A1", "A2"], ["B1", "B2"])
        assert system["role"] == "system" and user["role"] == "user"
        text = user["content"]
        assert (
            text.index('<conversation assistant="A">')
            < text.index("A2")
            < text.index('<conversation assistant="B">')
        )
        assert "[User, turn 2]\nMake it cheaper.\n[Assistant B, turn 2]\nB2" in text
        assert "[[A]]" in text and "[[B]]" in text and "[[C]]" in text
        assert "<reference>" not in text

    def test_reference_guided_prompts_carry_the_reference(self) -> None:
        _, pairwise = pairwise_messages(["What is 17 * 23?"], ["391"], ["401"], ["17 * 23 = 391"])
        _, single = single_messages(["What is 17 * 23?"], ["401"], ["17 * 23 = 391"])
        for message in (pairwise, single):
            assert "<reference>\n17 * 23 = 391\n</reference>" in message["content"]
        assert "Rating: [[N]]" in single["content"]


class TestPairwiseVerdicts:
    @pytest.mark.parametrize(
        ("reply", "verdict"),
        [
            ("A is more accurate.\n\n[[A]]", "A"),
            ("B wins.\n[[B]]", "B"),
            ("Equally good. [[C]]", "tie"),
            ("[[tie]]", "tie"),
            ("At first [[A]] seemed right, but on reflection: [[B]]", "B"),  # the last word counts
            ("Final verdict: **B**", "B"),
            ("My decision: assistant A", "A"),
            ("[[ a ]]", "A"),
        ],
    )
    def test_reads_the_last_verdict(self, reply: str, verdict: str) -> None:
        parsed = parse_pairwise(reply)
        assert parsed.verdict == verdict
        assert parsed.problem is None

    def test_explanation_is_the_text_before_the_verdict(self) -> None:
        assert (
            parse_pairwise("A cites the source; B does not.\n\n[[A]]").explanation
            == "A cites the source; B does not."
        )

    @pytest.mark.parametrize("reply", ["", "Both are fine.", "[[D]]", "I prefer the first one."])
    def test_no_verdict_is_reported_with_the_reason(self, reply: str) -> None:
        parsed = parse_pairwise(reply)
        assert parsed.verdict is None
        assert parsed.problem is not None and "[[A]]" in parsed.problem


class TestSingleGrades:
    @pytest.mark.parametrize(
        ("reply", "score"),
        [
            ("Solid.\nRating: [[7]]", 7.0),
            ("Rating: [[10]]", 10.0),
            ("[[7.5]]", 7.5),
            ("[[8/10]]", 8.0),
            ("Rating: 6", 6.0),
            ("Score: **9**", 9.0),
            ("I would give this 4/10.", 4.0),
            ("Rating: [[3]] ... on reflection, Rating: [[5]]", 5.0),
        ],
    )
    def test_reads_the_last_rating(self, reply: str, score: float) -> None:
        parsed = parse_single(reply)
        assert parsed.score == score
        assert parsed.problem is None

    @pytest.mark.parametrize(
        ("reply", "problem"),
        [
            ("A fine answer.", "no rating"),
            ("Rating: [[11]]", "outside the scale"),
            ("Rating: [[0]]", "outside"),
        ],
    )
    def test_unreadable_or_out_of_scale(self, reply: str, problem: str) -> None:
        parsed = parse_single(reply)
        assert parsed.score is None
        assert parsed.problem is not None and problem in parsed.problem
        assert parsed.explanation == reply.strip()
