from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.dedupe import NearDuplicateIndex, Neighbour, make_index
from app.dedupe.decisions import decide
from app.dedupe.scoring import rouge_l_fmeasure

# Few distinct words force overlaps, ties and long common subsequences; lengths past 64 and 128 exercise
# the multi-word LCS kernel.
WORDS = ["the", "a", "of", "cat", "dog", "sat", "mat", "2", "Run"]
HANGUL = ["세", "가", "지", "팁", "을", "요"]
ZIPF_WORDS = [f"w{i}" for i in range(300)]


def texts(words: list[str], max_size: int = 30) -> st.SearchStrategy[str]:
    lists = st.lists(st.sampled_from(words), max_size=max_size)
    long_lists = st.lists(st.sampled_from(words[:3]), min_size=60, max_size=140)
    return st.one_of(lists, lists, lists, long_lists).map(" ".join)


def both(threshold: float = 0.7, tokenizer: str = "rouge") -> tuple[NearDuplicateIndex, NearDuplicateIndex]:
    return (
        make_index(threshold=threshold, tokenizer=tokenizer, impl="fast"),
        make_index(threshold=threshold, tokenizer=tokenizer, impl="reference"),
    )


def assert_same_checks(fast: NearDuplicateIndex, reference: NearDuplicateIndex, queries: list[str]) -> None:
    """Fast and reference agree on every query for several k (the fast index prunes by k)."""
    for query in queries:
        # The reference ranks everything; its answer for a smaller k is a prefix (it sorts, then cuts).
        ranked = reference.check(query, k=len(reference))
        for k in (0, 1, 3, 10):
            expected = decide(reference.threshold, ranked.max_score, ranked.neighbours[:k])
            assert fast.check(query, k=k) == expected, (query, k)
        assert fast.is_duplicate(query) == ranked.is_duplicate
    assert len(fast) == len(reference)


class TestFastIndex:
    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_matches_reference_on_random_streams(self, data: st.DataObject) -> None:
        pool = data.draw(st.lists(texts(WORDS), max_size=20))
        queries = data.draw(st.lists(texts(WORDS), min_size=1, max_size=4))
        fast, reference = both()
        for i, text in enumerate(pool):
            fast.add(i, text)
            reference.add(i, text)
        assert_same_checks(fast, reference, queries + pool[:2])

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_matches_reference_on_threshold_ties(self, data: st.DataObject) -> None:
        pool = data.draw(st.lists(texts(WORDS, 12), min_size=1, max_size=12))
        query = data.draw(texts(WORDS, 12))
        # The threshold sits on, or one float step either side of, a score that occurs in the pool.
        exact = make_index(impl="reference", threshold=1.0)
        exact.add_many(enumerate(pool))
        scores = [n.score for n in exact.check(query, k=len(pool)).neighbours] or [0.5]
        score = data.draw(st.sampled_from(scores))
        threshold = data.draw(
            st.sampled_from([score, math.nextafter(score, 0.0), math.nextafter(score, 1.0)])
        )
        threshold = min(max(threshold, 1e-9), 1.0)
        fast, reference = both(threshold)
        fast.add_many(enumerate(pool))
        reference.add_many(enumerate(pool))
        assert_same_checks(fast, reference, [query])

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_matches_reference_through_removals_and_re_adds(self, data: st.DataObject) -> None:
        pool = data.draw(st.lists(texts(WORDS, 15), min_size=1, max_size=20))
        fast, reference = both()
        fast.add_many(enumerate(pool))
        reference.add_many(enumerate(pool))
        removed = data.draw(st.lists(st.sampled_from(range(len(pool))), unique=True))
        for key in removed:
            fast.remove(key)
            reference.remove(key)
        for key in removed[: len(removed) // 2]:  # restored records come back as the newest
            fast.add(key, pool[key])
            reference.add(key, pool[key])
        assert_same_checks(fast, reference, [data.draw(texts(WORDS, 15)), pool[0]])

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(texts(HANGUL, 20), max_size=15), st.lists(texts(HANGUL, 20), min_size=1, max_size=3))
    def test_matches_reference_with_the_unicode_tokenizer(self, pool: list[str], queries: list[str]) -> None:
        fast, reference = both(tokenizer="unicode")
        fast.add_many(enumerate(pool))
        reference.add_many(enumerate(pool))
        assert_same_checks(fast, reference, queries)

    def test_breaks_score_ties_by_insertion_order(self) -> None:
        index = make_index()
        index.add("b", "cat sat mat")
        index.add("a", "mat sat cat")  # same tokens, other order: a lower score
        index.add("c", "cat sat mat")
        assert [n.key for n in index.check("cat sat mat dog").neighbours] == ["b", "c", "a"]
        index.remove("b")
        index.add("b", "cat sat mat")
        assert [n.key for n in index.check("cat sat mat").neighbours] == ["c", "b", "a"]

    def test_scores_a_threshold_case_on_its_last_bit(self) -> None:
        # LCS 7 of 9 and 11 tokens gives 0.7000000000000001, a duplicate at threshold 0.7.
        index = make_index(threshold=0.7)
        index.add(1, "a b c d e f g x y z w")
        decision = index.check("a b c d e f g q r")
        assert decision.max_score == rouge_l_fmeasure(7, 9, 11) == 0.7000000000000001
        assert decision.is_duplicate

    def test_answers_empty_pools_and_texts_with_zero(self) -> None:
        index = make_index()
        assert index.check("anything").max_score == 0.0
        index.add(1, "!!!")  # no tokens: it can score 0 only
        index.add(2, "the cat")
        assert index.check("").neighbours == []
        decision = index.check("a dog", k=5)
        assert (decision.max_score, decision.neighbours, decision.mean_score) == (0.0, [], 0.0)
        assert index.check("the cat").neighbours == [Neighbour(key=2, text="the cat", score=1.0)]

    def test_reports_the_best_score_even_when_no_neighbours_are_asked(self) -> None:
        index = make_index()
        index.add(1, "the cat sat")
        decision = index.check("the cat sat", k=0)
        assert (decision.max_score, decision.is_duplicate, decision.neighbours) == (1.0, True, [])

    def test_mean_score_averages_the_neighbours(self) -> None:
        index = make_index()
        index.add_many([(1, "the cat sat"), (2, "the cat"), (3, "dog")])
        decision = index.check("the cat sat", k=2)
        assert decision.mean_score == (1.0 + rouge_l_fmeasure(2, 3, 2)) / 2

    def test_rebuilds_with_add_many_as_add_does(self) -> None:
        pool = [f"{w} {v} of the cat" for w in WORDS for v in WORDS]
        one_by_one, bulk = make_index(), make_index()
        for i, text in enumerate(pool):
            one_by_one.add(i, text)
        bulk.add_many(enumerate(pool))
        for query in pool[::7]:
            assert one_by_one.check(query) == bulk.check(query)

    def test_rejects_a_key_twice_and_removing_an_absent_key(self) -> None:
        index = make_index()
        index.add(1, "the cat")
        with pytest.raises(ValueError, match="already"):
            index.add(1, "the dog")
        with pytest.raises(ValueError, match="already"):
            index.add_many([(2, "x"), (2, "y")])
        assert len(index) == 1
        with pytest.raises(KeyError):
            index.remove(3)

    def test_removed_text_is_never_a_neighbour(self) -> None:
        index = make_index()
        index.add_many([(1, "the cat sat"), (2, "the cat")])
        index.remove(1)
        assert [n.key for n in index.check("the cat sat").neighbours] == [2]
        assert len(index) == 1


class TestFastIndexPruning:
    """Every pruning path against the reference: frequent-token masks and counts (bits run out), windowed
    reads, mask sweeps or frequent postings, small and large scoring batches."""

    @pytest.mark.parametrize(
        "knobs",
        [
            {"FREQUENT_MIN_TEXTS": 2, "FIRST_SCAN_POSTINGS": 8, "SWEEP_COST_IN_POSTINGS": 0.0},
            {"FREQUENT_MIN_TEXTS": 2, "FIRST_SCAN_POSTINGS": 8, "SWEEP_COST_IN_POSTINGS": 1e9},
            {"FREQUENT_MIN_TEXTS": 5, "FIRST_SCAN_POSTINGS": 100_000, "SMALL_BATCH": 0, "FIRST_BATCH": 2},
            {"FREQUENT_MIN_TEXTS": 10**9, "FIRST_SCAN_POSTINGS": 1, "POSTINGS_PER_OPEN_TEXT": 10**6},
        ],
    )
    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_matches_reference_whatever_path_the_search_takes(
        self, knobs: dict[str, float], data: st.DataObject
    ) -> None:
        from app.dedupe import pool as pool_module
        from app.dedupe import search as search_module
        from app.dedupe import verify as verify_module

        rng = random.Random(data.draw(st.integers(0, 2**32)))
        # Zipf-like draws: a few words in most texts (frequent, repeated), a long tail of rare ones.
        weights = [1 / (rank + 1) for rank in range(len(ZIPF_WORDS))]

        def text() -> str:
            size = rng.choice(
                [rng.randint(0, 12), rng.randint(5, 30), rng.randint(5, 30), rng.randint(62, 72)]
            )
            return " ".join(rng.choices(ZIPF_WORDS, weights, k=size))

        pool = [text() for _ in range(rng.randint(40, 160))]
        queries = [text() for _ in range(3)] + [pool[0]]
        with pytest.MonkeyPatch.context() as patch:
            for name, value in knobs.items():
                modules = (pool_module, search_module, verify_module)
                patch.setattr(next(m for m in modules if hasattr(m, name)), name, value)
            fast, reference = both(threshold=data.draw(st.sampled_from([0.3, 0.5, 0.7])))
            half = len(pool) // 2
            fast.add_many(enumerate(pool[:half]))
            for key, item in enumerate(pool[half:], start=half):
                fast.add(key, item)  # one at a time too, as a stream does
            reference.add_many(enumerate(pool))
            for key in range(0, len(pool), 17):
                fast.remove(key)
                reference.remove(key)
            assert_same_checks(fast, reference, queries)


class TestMakeIndex:
    @pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5, float("nan")])
    def test_rejects_a_threshold_outside_zero_to_one(self, threshold: float) -> None:
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            make_index(threshold=threshold)

    def test_rejects_unknown_implementations_and_tokenizers(self) -> None:
        with pytest.raises(ValueError, match="fast, reference"):
            make_index(impl="approximate")
        with pytest.raises(ValueError, match="rouge, unicode"):
            make_index(tokenizer="words")

    def test_exposes_threshold_and_tokenizer(self) -> None:
        index = make_index(threshold=0.5, tokenizer="unicode")
        assert (index.threshold, index.tokenizer) == (0.5, "unicode")
