"""The reference index: rouge-score's own scorer against every kept text, nothing skipped.

It is the definition the fast index is held to (tests and the benchmark compare the two), and it is slow:
about 30 microseconds a pair, so 1.5 s per check against 52K kept instructions.
"""

from __future__ import annotations

from collections.abc import Iterable

from rouge_score import rouge_scorer
from rouge_score import tokenizers as rouge_tokenizers

from app.dedupe.decisions import Decision, Key, Neighbour, check_k, check_threshold, decide
from app.dedupe.tokenizers import ROUGE, check_tokenizer, tokenize


class _PastureTokenizer(rouge_tokenizers.Tokenizer):
    """Hands one of Pasture's tokenizers to rouge-score through its ``tokenizer=`` hook."""

    def __init__(self, name: str) -> None:
        self._name = name

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self._name)


class ReferenceIndex:
    """Scores the text against each kept text with ``RougeScorer(["rougeL"]).score(text, kept)``."""

    def __init__(self, *, threshold: float = 0.7, tokenizer: str = ROUGE) -> None:
        self.threshold = check_threshold(threshold)
        self.tokenizer = check_tokenizer(tokenizer)
        # rouge-score's default tokenizer is the ``rouge`` one; the unicode tokenizer goes through the hook.
        custom = None if tokenizer == ROUGE else _PastureTokenizer(tokenizer)
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=custom)
        # A dict keeps insertion order, and a key removed and added again moves to the end, as in the
        # fast index.
        self._texts: dict[Key, str] = {}

    def __len__(self) -> int:
        return len(self._texts)

    def add(self, key: Key, text: str) -> None:
        if key in self._texts:
            raise ValueError(f"key {key!r} is already in the index; remove it first")
        self._texts[key] = text

    def add_many(self, items: Iterable[tuple[Key, str]]) -> None:
        for key, text in items:
            self.add(key, text)

    def remove(self, key: Key) -> None:
        del self._texts[key]

    def check(self, text: str, k: int = 10) -> Decision:
        check_k(k)
        scored: list[tuple[float, int, Key, str]] = []
        for order, (key, kept) in enumerate(self._texts.items()):
            score = float(self._scorer.score(text, kept)["rougeL"].fmeasure)
            scored.append((score, order, key, kept))
        max_score = max((entry[0] for entry in scored), default=0.0)
        ranked = sorted((entry for entry in scored if entry[0] > 0), key=lambda entry: (-entry[0], entry[1]))
        neighbours = [Neighbour(key=key, text=kept, score=score) for score, _, key, kept in ranked[:k]]
        return decide(self.threshold, max_score, neighbours)

    def is_duplicate(self, text: str) -> bool:
        return self.check(text, k=0).is_duplicate
