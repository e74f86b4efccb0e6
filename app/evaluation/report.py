"""The numbers of an evaluation report, from per-question outcomes. Pure: no database, no web.

- Pairwise: each question is judged twice, the candidate shown first and then the baseline shown first.
  The question is a win (or a loss) only when both orders agree; when they disagree the verdict flipped
  with the order and the question counts as a tie. The flip rate is the share of questions, judged in
  both orders, whose two verdicts disagree. A judge that always prefers the answer shown first therefore
  scores all ties, with a flip rate of 1.
- Confidence intervals: percentile bootstrap over questions (resampled with replacement, a fixed seed).
- Relative score (as in Vicuna's "90% of ChatGPT"): the candidate's total single-answer score over the
  baseline's, on the questions where both answers were graded.
- Length: mean answer length difference, candidate minus baseline, in characters and words, and how often
  the longer answer won a decided question (judges are known to favour longer answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

CONFIDENCE = 0.95
WIN, TIE, LOSS = 0, 1, 2


@dataclass(frozen=True, slots=True)
class QuestionOutcome:
    """What the judge said about one question. Winners are "candidate", "baseline", "tie" or None."""

    key: str
    category: str
    candidate_first: str | None = None  # pairwise verdict with the candidate shown as A
    baseline_first: str | None = None  # pairwise verdict with the baseline shown as A
    candidate_score: float | None = None
    baseline_score: float | None = None
    candidate_answer: str | None = None  # all turns, joined
    baseline_answer: str | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class PairwiseSummary:
    judged: int  # questions with a readable verdict in both orders
    wins: int
    ties: int
    losses: int
    win_rate: float | None
    tie_rate: float | None
    loss_rate: float | None
    win_rate_ci: Interval | None
    tie_rate_ci: Interval | None
    loss_rate_ci: Interval | None
    flipped: int  # questions whose two verdicts disagree (counted as ties)
    flip_rate: float | None
    verdicts: int  # single-order verdicts read
    first_shown_preferred: int  # of those, how many picked the answer shown first
    second_shown_preferred: int
    tied_verdicts: int


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    graded: int  # questions where both answers have a single-answer score
    candidate_total: float
    baseline_total: float
    candidate_mean: float | None
    baseline_mean: float | None
    relative_score: float | None  # candidate_total / baseline_total
    relative_score_ci: Interval | None


@dataclass(frozen=True, slots=True)
class LengthSummary:
    compared: int  # questions with both answers
    candidate_mean_chars: float | None
    baseline_mean_chars: float | None
    mean_char_difference: float | None  # candidate - baseline
    mean_word_difference: float | None
    decided_with_length_difference: int  # wins and losses where the two answers differ in length
    longer_answer_won: int
    longer_answer_win_rate: float | None


@dataclass(frozen=True, slots=True)
class GroupReport:
    category: str | None  # None: all questions
    questions: int
    pairwise: PairwiseSummary
    scores: ScoreSummary
    lengths: LengthSummary


@dataclass(frozen=True, slots=True)
class Report:
    overall: GroupReport
    categories: list[GroupReport] = field(default_factory=list)
    confidence: float = CONFIDENCE
    bootstrap_samples: int = 0
    seed: int = 0


def build_report(
    outcomes: Sequence[QuestionOutcome], *, bootstrap_samples: int = 2000, seed: int = 0
) -> Report:
    categories: list[str] = []
    for outcome in outcomes:
        if outcome.category not in categories:
            categories.append(outcome.category)
    return Report(
        overall=_group(None, outcomes, bootstrap_samples, seed),
        categories=[
            _group(name, [o for o in outcomes if o.category == name], bootstrap_samples, seed)
            for name in categories
        ],
        bootstrap_samples=bootstrap_samples,
        seed=seed,
    )


def pairwise_outcome(candidate_first: str, baseline_first: str) -> int:
    """WIN or LOSS when both orders agree on it; TIE otherwise (a flipped verdict, or a tie)."""
    if candidate_first == baseline_first == "candidate":
        return WIN
    if candidate_first == baseline_first == "baseline":
        return LOSS
    return TIE


def _group(category: str | None, outcomes: Sequence[QuestionOutcome], samples: int, seed: int) -> GroupReport:
    return GroupReport(
        category=category,
        questions=len(outcomes),
        pairwise=_pairwise(outcomes, samples, seed),
        scores=_scores(outcomes, samples, seed),
        lengths=_lengths(outcomes),
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _interval(values: np.ndarray) -> Interval:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))


def _resample(n: int, samples: int, seed: int) -> np.ndarray:
    """Bootstrap indices, shape (samples, n); the same seed gives the same resamples."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def _pairwise(outcomes: Sequence[QuestionOutcome], samples: int, seed: int) -> PairwiseSummary:
    codes: list[int] = []
    flipped = verdicts = first = second = tied = 0
    for o in outcomes:
        for shown_first, winner in (("candidate", o.candidate_first), ("baseline", o.baseline_first)):
            if winner is None:
                continue
            verdicts += 1
            if winner == "tie":
                tied += 1
            elif winner == shown_first:
                first += 1
            else:
                second += 1
        if o.candidate_first is None or o.baseline_first is None:
            continue
        codes.append(pairwise_outcome(o.candidate_first, o.baseline_first))
        flipped += o.candidate_first != o.baseline_first
    n = len(codes)
    counts = [codes.count(code) for code in (WIN, TIE, LOSS)]
    intervals: list[Interval | None] = [None, None, None]
    if n and samples > 0:
        resampled = np.asarray(codes)[_resample(n, samples, seed)]
        for code in (WIN, TIE, LOSS):
            intervals[code] = _interval((resampled == code).mean(axis=1))
    return PairwiseSummary(
        judged=n,
        wins=counts[WIN],
        ties=counts[TIE],
        losses=counts[LOSS],
        win_rate=_share(counts[WIN], n),
        tie_rate=_share(counts[TIE], n),
        loss_rate=_share(counts[LOSS], n),
        win_rate_ci=intervals[WIN],
        tie_rate_ci=intervals[TIE],
        loss_rate_ci=intervals[LOSS],
        flipped=flipped,
        flip_rate=_share(flipped, n),
        verdicts=verdicts,
        first_shown_preferred=first,
        second_shown_preferred=second,
        tied_verdicts=tied,
    )


def _scores(outcomes: Sequence[QuestionOutcome], samples: int, seed: int) -> ScoreSummary:
    pairs = [
        (o.candidate_score, o.baseline_score)
        for o in outcomes
        if o.candidate_score is not None and o.baseline_score is not None
    ]
    n = len(pairs)
    candidate = np.asarray([c for c, _ in pairs], dtype=float)
    baseline = np.asarray([b for _, b in pairs], dtype=float)
    candidate_total, baseline_total = float(candidate.sum()), float(baseline.sum())
    relative = candidate_total / baseline_total if n and baseline_total > 0 else None
    interval = None
    if relative is not None and samples > 0:
        index = _resample(n, samples, seed)
        interval = _interval(candidate[index].sum(axis=1) / baseline[index].sum(axis=1))
    return ScoreSummary(
        graded=n,
        candidate_total=candidate_total,
        baseline_total=baseline_total,
        candidate_mean=candidate_total / n if n else None,
        baseline_mean=baseline_total / n if n else None,
        relative_score=relative,
        relative_score_ci=interval,
    )


def _lengths(outcomes: Sequence[QuestionOutcome]) -> LengthSummary:
    both = [o for o in outcomes if o.candidate_answer is not None and o.baseline_answer is not None]
    n = len(both)
    char_differences: list[int] = []
    word_differences: list[int] = []
    candidate_chars: list[int] = []
    baseline_chars: list[int] = []
    decided = longer_won = 0
    for o in both:
        assert o.candidate_answer is not None and o.baseline_answer is not None
        c_chars, b_chars = len(o.candidate_answer), len(o.baseline_answer)
        candidate_chars.append(c_chars)
        baseline_chars.append(b_chars)
        char_differences.append(c_chars - b_chars)
        word_differences.append(len(o.candidate_answer.split()) - len(o.baseline_answer.split()))
        if o.candidate_first is None or o.baseline_first is None or c_chars == b_chars:
            continue
        code = pairwise_outcome(o.candidate_first, o.baseline_first)
        if code == TIE:
            continue
        decided += 1
        longer_won += (code == WIN) == (c_chars > b_chars)
    return LengthSummary(
        compared=n,
        candidate_mean_chars=float(np.mean(candidate_chars)) if n else None,
        baseline_mean_chars=float(np.mean(baseline_chars)) if n else None,
        mean_char_difference=float(np.mean(char_differences)) if n else None,
        mean_word_difference=float(np.mean(word_differences)) if n else None,
        decided_with_length_difference=decided,
        longer_answer_won=longer_won,
        longer_answer_win_rate=_share(longer_won, decided),
    )
