"""The fast index against rouge-score's own loop on real instructions (skipped without the shared data).

The whole 52K Alpaca stream is compared in bench/dedupe_bench.py; here a prefix with injected near
duplicates, and samples against a few thousand kept instructions, keep the suite to seconds.
"""

from __future__ import annotations

import random

from app.dedupe import Decision, NearDuplicateIndex, make_index
from app.dedupe.decisions import decide


def perturbed(text: str, rng: random.Random) -> str:
    """A near copy: one word dropped, two swapped, or one repeated."""
    words = text.split()
    if len(words) < 3:
        return text + " again"
    i, j = sorted(rng.sample(range(len(words)), 2))
    change = rng.choice(["drop", "swap", "repeat"])
    if change == "drop":
        del words[i]
    elif change == "swap":
        words[i], words[j] = words[j], words[i]
    else:
        words.insert(j, words[i])
    return " ".join(words)


def stream_with_near_copies(instructions: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    stream: list[str] = []
    for text in instructions[:count]:
        stream.append(text)
        if rng.random() < 0.3:
            stream.append(perturbed(text, rng))
    return stream


def run_stream(index: NearDuplicateIndex, stream: list[str]) -> list[tuple[int, Decision]]:
    """Dedupe ``stream`` in order, recording every check's full answer."""
    answers: list[tuple[int, Decision]] = []
    for i, text in enumerate(stream):
        decision = index.check(text, k=10)
        answers.append((i, decision))
        if not decision.is_duplicate:
            index.add(i, text)
    return answers


def assert_same_on_sample(
    fast: NearDuplicateIndex, reference: NearDuplicateIndex, queries: list[str]
) -> None:
    for query in queries:
        ranked = reference.check(query, k=len(reference))
        for k in (1, 10):
            assert fast.check(query, k=k) == decide(
                reference.threshold, ranked.max_score, ranked.neighbours[:k]
            )


class TestAlpacaStream:
    def test_keeps_the_same_instructions_as_the_reference_on_a_prefix(
        self, alpaca_instructions: list[str]
    ) -> None:
        stream = stream_with_near_copies(alpaca_instructions, 160, seed=1)
        fast_answers = run_stream(make_index(), stream)
        reference_answers = run_stream(make_index(impl="reference"), stream)
        assert fast_answers == reference_answers
        assert any(decision.is_duplicate for _, decision in fast_answers)  # the near copies were caught

    def test_matches_the_reference_against_thousands_of_kept_instructions(
        self, alpaca_instructions: list[str]
    ) -> None:
        rng = random.Random(2)
        pool = alpaca_instructions[:3000]
        queries = rng.sample(alpaca_instructions[3000:], 10) + [
            perturbed(t, rng) for t in rng.sample(pool, 6)
        ]
        fast, reference = make_index(), make_index(impl="reference")
        fast.add_many(enumerate(pool))
        reference.add_many(enumerate(pool))
        assert_same_on_sample(fast, reference, queries)


class TestKoreanSample:
    def test_matches_the_reference_with_the_unicode_tokenizer(self, korean_instructions: list[str]) -> None:
        rng = random.Random(3)
        pool = korean_instructions[:1500]
        queries = rng.sample(korean_instructions[1500:], 5) + [perturbed(t, rng) for t in rng.sample(pool, 5)]
        fast = make_index(tokenizer="unicode")
        reference = make_index(tokenizer="unicode", impl="reference")
        fast.add_many(enumerate(pool))
        reference.add_many(enumerate(pool))
        assert_same_on_sample(fast, reference, queries)
