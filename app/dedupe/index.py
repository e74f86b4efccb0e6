"""The production near-duplicate index: exact ROUGE-L top-k over kept texts, pruned (see search.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from app.dedupe.decisions import Decision, Key, Neighbour, check_k, check_threshold, decide
from app.dedupe.pool import TokenPool
from app.dedupe.search import top_scores
from app.dedupe.tokenizers import ROUGE, check_tokenizer, tokenize

_ADD_CHUNK = 65_536


class FastIndex:
    """Exact ROUGE-L near-duplicate index; its decisions, scores and neighbours equal ReferenceIndex's.

    Checks reuse scratch arrays held by the index: one check or change at a time (callers that share an
    index between threads hold a lock around it).
    """

    def __init__(self, *, threshold: float = 0.7, tokenizer: str = ROUGE) -> None:
        self.threshold = check_threshold(threshold)
        self.tokenizer = check_tokenizer(tokenizer)
        self._pool = TokenPool()
        # By slot; a removed slot keeps None so that its memory goes and its number is not reused.
        self._keys: list[Key | None] = []
        self._texts: list[str | None] = []
        self._slot_of: dict[Key, int] = {}

    def __len__(self) -> int:
        return len(self._slot_of)

    def add(self, key: Key, text: str) -> None:
        if key in self._slot_of:
            raise ValueError(f"key {key!r} is already in the index; remove it first")
        intern = self._pool.intern
        slot = self._pool.append([[intern(token) for token in tokenize(text, self.tokenizer)]])
        self._keys.append(key)
        self._texts.append(text)
        self._slot_of[key] = slot

    def add_many(self, items: Iterable[tuple[Key, str]]) -> None:
        """Add many texts at once (a rebuild on start-up); the same result as ``add`` for each in turn.

        Raises ValueError, adding nothing, if a key is already present or repeats.
        """
        keys: list[Key] = []
        texts: list[str] = []
        for key, text in items:
            keys.append(key)
            texts.append(text)
        fresh: set[Key] = set()
        for key in keys:
            if key in self._slot_of or key in fresh:
                raise ValueError(f"key {key!r} is already in the index; remove it first")
            fresh.add(key)
        intern = self._pool.intern
        # In chunks, so that the token lists of a million texts never sit in memory all at once.
        for start in range(0, len(keys), _ADD_CHUNK):
            chunk_keys, chunk_texts = keys[start : start + _ADD_CHUNK], texts[start : start + _ADD_CHUNK]
            id_lists = [[intern(token) for token in tokenize(text, self.tokenizer)] for text in chunk_texts]
            first = self._pool.append(id_lists)
            self._keys.extend(chunk_keys)
            self._texts.extend(chunk_texts)
            for offset, key in enumerate(chunk_keys):
                self._slot_of[key] = first + offset

    def remove(self, key: Key) -> None:
        """Forget ``key``'s text (KeyError if absent); added again, it counts as the newest insertion."""
        slot = self._slot_of.pop(key)
        self._pool.drop(slot)
        self._keys[slot] = None
        self._texts[slot] = None

    def check(self, text: str, k: int = 10) -> Decision:
        check_k(k)
        # The best score is needed even when no neighbours are asked for.
        slots, scores = top_scores(self._pool, tokenize(text, self.tokenizer), max(k, 1))
        max_score = float(scores[0]) if scores.shape[0] else 0.0
        neighbours = [
            self._neighbour(slot, score)
            for slot, score in zip(slots[:k].tolist(), scores[:k].tolist(), strict=True)
        ]
        return decide(self.threshold, max_score, neighbours)

    def is_duplicate(self, text: str) -> bool:
        """``check(text).is_duplicate``, much faster: with no neighbours or best score to report, only
        texts that could score above the threshold are looked at, and the first found settles it."""
        above = math.nextafter(self.threshold, math.inf)  # score >= above <=> score > threshold
        _, scores = top_scores(
            self._pool, tokenize(text, self.tokenizer), 1, at_least=above, any_will_do=True
        )
        return bool(scores.shape[0])

    def _neighbour(self, slot: int, score: float) -> Neighbour:
        key, text = self._keys[slot], self._texts[slot]
        assert key is not None and text is not None, "a removed text has no postings, so it never ranks"
        return Neighbour(key=key, text=text, score=score)
