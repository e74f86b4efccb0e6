from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from app.dedupe.lcs import BitPattern
from app.dedupe.scoring import UNREACHABLE, min_lcs_reaching, rouge_l_fmeasure, rouge_l_fmeasures


def dp_lcs(a: list[int], b: list[int]) -> int:
    """The textbook dynamic programme, as rouge-score's _lcs_table does it."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


token_lists = st.lists(st.integers(1, 4), max_size=150)


class TestFMeasure:
    def test_reproduces_the_last_bit_that_decides_a_threshold(self) -> None:
        # LCS 7 between 9 and 11 tokens: 2 * 7 / 20 is 0.7 exactly, but rouge-score's float path is not.
        assert rouge_l_fmeasure(7, 9, 11) == 0.7000000000000001
        assert rouge_l_fmeasure(7, 9, 11) > 0.7

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.lists(st.sampled_from("abcde"), max_size=40), st.lists(st.sampled_from("abcde"), max_size=40))
    def test_equals_rouge_score_bit_for_bit(self, target: list[str], prediction: list[str]) -> None:
        expected = rouge_scorer._score_lcs(target, prediction).fmeasure
        lcs = dp_lcs([ord(t) for t in target], [ord(p) for p in prediction])
        assert rouge_l_fmeasure(lcs, len(target), len(prediction)) == expected
        assert rouge_l_fmeasures(np.array([lcs]), len(target), np.array([len(prediction)]))[0] == expected

    def test_rises_strictly_with_the_lcs_for_every_length_pair_up_to_300(self) -> None:
        # The search bounds scores by bounding the LCS; that is sound only if this holds bit for bit.
        lengths = np.arange(1, 301)
        for m in range(1, 301):
            lcs = np.arange(0, 301)[:, None]
            scores = rouge_l_fmeasures(np.broadcast_to(lcs, (301, 300)).ravel(), m, np.tile(lengths, 301))
            table = scores.reshape(301, 300)
            feasible = lcs <= np.minimum(m, lengths)[None, :]
            rises = np.diff(table, axis=0) > 0
            assert np.all(rises[feasible[1:]])


class TestMinLcsReaching:
    @settings(max_examples=300, deadline=None, database=None)
    @given(st.integers(1, 250), st.integers(1, 250), st.integers(1, 250), st.sampled_from([-1, 0, 1, None]))
    def test_is_the_least_lcs_whose_score_reaches(self, m: int, n: int, lcs: int, nudge: int | None) -> None:
        score = rouge_l_fmeasure(min(lcs, m, n), m, n)
        if nudge is None:
            score = (lcs % 97) / 97
        elif nudge:
            score = float(np.nextafter(score, 2.0 if nudge > 0 else 0.0))
        lengths = np.array([n])
        expected = next(
            (x for x in range(1, min(m, n) + 1) if rouge_l_fmeasure(x, m, n) >= score), UNREACHABLE
        )
        assert min_lcs_reaching(score, m, lengths)[0] == expected


class TestBitParallelLcs:
    @settings(max_examples=300, deadline=None, database=None)
    @given(token_lists, token_lists)
    def test_python_driver_equals_the_dynamic_programme(self, a: list[int], b: list[int]) -> None:
        assert BitPattern(a).lcs(b) == dp_lcs(a, b)

    @settings(max_examples=200, deadline=None, database=None)
    @given(token_lists, st.lists(token_lists, min_size=1, max_size=8))
    def test_numpy_driver_equals_the_dynamic_programme(self, a: list[int], texts: list[list[int]]) -> None:
        texts = sorted(texts, key=len, reverse=True)
        pattern = BitPattern(a)
        row_of = {token: row for row, token in enumerate(pattern.distinct.tolist())}
        steps = max(len(text) for text in texts)
        rows = np.full((steps, len(texts)), -1)
        for i, text in enumerate(texts):
            for j, token in enumerate(text):
                rows[j, i] = row_of.get(token, -1)
        lengths = np.array([len(text) for text in texts])
        assert pattern.lcs_many(rows, lengths).tolist() == [dp_lcs(a, text) for text in texts]

    def test_carries_cross_words_in_long_patterns(self) -> None:
        a = [1] * 64 + [2] * 70 + [3] * 3
        b = [2] * 70 + [1] * 64 + [3] * 3
        rows = np.array([[BitPattern(a).distinct.tolist().index(t)] for t in b])
        assert BitPattern(a).lcs_many(rows, np.array([len(b)]))[0] == dp_lcs(a, b) == 73
