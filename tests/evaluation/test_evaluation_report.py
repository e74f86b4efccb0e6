"""Report numbers against hand-computed expectations."""

from __future__ import annotations

import pytest

from app.evaluation.report import QuestionOutcome, build_report, pairwise_outcome

C, B, T = "candidate", "baseline", "tie"


def four_questions() -> list[QuestionOutcome]:
    """q1: the candidate wins in both orders.  q2: the baseline wins in both orders.
    q3: the judge picks whatever is shown first (a flip).  q4: candidate, then a tie (they disagree)."""
    return [
        QuestionOutcome("q1", "math", C, C, 9, 6, "x" * 300, "x" * 100),
        QuestionOutcome("q2", "math", B, B, 3, 7, "word " * 10, "word " * 50),
        QuestionOutcome("q3", "writing", C, B, 6, 5, "abc", "abcdef"),
        QuestionOutcome("q4", "writing", C, T, 7, 2, "same", "size"),
    ]


class TestHandComputed:
    def test_overall(self) -> None:
        report = build_report(four_questions(), bootstrap_samples=500, seed=1)
        pairwise = report.overall.pairwise
        assert (pairwise.judged, pairwise.wins, pairwise.ties, pairwise.losses) == (4, 1, 2, 1)
        assert (pairwise.win_rate, pairwise.tie_rate, pairwise.loss_rate) == (0.25, 0.5, 0.25)
        # q3 and q4 disagree between the orders: both count as ties, and 2 of 4 flipped.
        assert (pairwise.flipped, pairwise.flip_rate) == (2, 0.5)
        # Eight single-order verdicts: shown-first wins are q1 (C first), q2 (B first), q3 twice, q4 (C first).
        assert (pairwise.verdicts, pairwise.first_shown_preferred) == (8, 5)
        assert (pairwise.second_shown_preferred, pairwise.tied_verdicts) == (2, 1)

        scores = report.overall.scores
        assert (scores.graded, scores.candidate_total, scores.baseline_total) == (4, 25.0, 20.0)
        assert scores.relative_score == pytest.approx(1.25)
        assert (scores.candidate_mean, scores.baseline_mean) == (6.25, 5.0)

        lengths = report.overall.lengths
        # Characters: (300-100) + (50-250) + (3-6) + (4-4) = -3, over 4 questions.
        assert lengths.mean_char_difference == pytest.approx(-3 / 4)
        # Words: (1-1) + (10-50) + (1-1) + (1-1) = -40.
        assert lengths.mean_word_difference == pytest.approx(-10.0)
        # Decided questions: q1 (the longer candidate won), q2 (the longer baseline won).
        assert (lengths.decided_with_length_difference, lengths.longer_answer_won) == (2, 2)
        assert lengths.longer_answer_win_rate == 1.0

    def test_per_category(self) -> None:
        report = build_report(four_questions(), bootstrap_samples=500, seed=1)
        math, writing = report.categories
        assert (math.category, math.questions, writing.category) == ("math", 2, "writing")
        assert (math.pairwise.wins, math.pairwise.ties, math.pairwise.losses, math.pairwise.flip_rate) == (
            1,
            0,
            1,
            0.0,
        )
        assert (writing.pairwise.wins, writing.pairwise.ties, writing.pairwise.flip_rate) == (0, 2, 1.0)
        assert math.scores.relative_score == pytest.approx(12 / 13)
        assert writing.scores.relative_score == pytest.approx(13 / 7)

    def test_confidence_intervals_hold_the_estimate_and_repeat_with_the_seed(self) -> None:
        outcomes = four_questions() * 10
        first = build_report(outcomes, bootstrap_samples=2000, seed=7).overall
        again = build_report(outcomes, bootstrap_samples=2000, seed=7).overall
        assert first == again
        pairwise = first.pairwise
        for rate, interval in (
            (pairwise.win_rate, pairwise.win_rate_ci),
            (pairwise.tie_rate, pairwise.tie_rate_ci),
            (pairwise.loss_rate, pairwise.loss_rate_ci),
        ):
            assert interval is not None and rate is not None
            assert 0 <= interval.low < rate < interval.high <= 1
        # 40 questions at p = 0.5: the 95% interval is about ±0.15 wide on each side.
        assert pairwise.tie_rate_ci is not None
        assert 0.08 < pairwise.tie_rate - pairwise.tie_rate_ci.low < 0.22
        scores = first.scores
        assert scores.relative_score_ci is not None
        assert scores.relative_score_ci.low < 1.25 < scores.relative_score_ci.high


class TestPositionBias:
    def test_a_judge_that_always_prefers_the_first_answer_scores_all_ties(self) -> None:
        # Shown first: the candidate in one order, the baseline in the other.
        outcomes = [QuestionOutcome(f"q{i}", "any", C, B) for i in range(20)]
        pairwise = build_report(outcomes, bootstrap_samples=200).overall.pairwise
        assert (pairwise.wins, pairwise.ties, pairwise.losses) == (0, 20, 0)
        assert pairwise.flip_rate == 1.0
        assert pairwise.first_shown_preferred == 40
        assert pairwise.tie_rate_ci is not None
        assert (pairwise.tie_rate_ci.low, pairwise.tie_rate_ci.high) == (1.0, 1.0)

    def test_outcome_rule(self) -> None:
        assert pairwise_outcome(C, C) == 0 and pairwise_outcome(B, B) == 2
        assert {pairwise_outcome(C, B), pairwise_outcome(T, T), pairwise_outcome(C, T)} == {1}


class TestIncomplete:
    def test_questions_missing_a_verdict_or_a_score_are_left_out_of_those_numbers(self) -> None:
        outcomes = [
            QuestionOutcome("q1", "x", C, None, 8, None),
            QuestionOutcome("q2", "x", C, C, None, 4),
        ]
        overall = build_report(outcomes).overall
        assert (overall.pairwise.judged, overall.pairwise.wins, overall.pairwise.verdicts) == (1, 1, 3)
        assert overall.scores.graded == 0 and overall.scores.relative_score is None
        assert overall.lengths.compared == 0 and overall.lengths.mean_char_difference is None

    def test_nothing_judged(self) -> None:
        overall = build_report([]).overall
        assert overall.pairwise.win_rate is None and overall.pairwise.win_rate_ci is None
