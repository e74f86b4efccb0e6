"""What a near-duplicate check returns, and the interface both index implementations offer."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

Key = int | str


@dataclass(frozen=True, slots=True)
class Neighbour:
    key: Key  # the caller's id of the kept instruction
    text: str
    score: float  # ROUGE-L F-measure


@dataclass(frozen=True, slots=True)
class Decision:
    is_duplicate: bool  # best score > threshold (strictly greater)
    max_score: float  # 0.0 if the pool is empty
    neighbours: list[Neighbour]  # exact top-k by score desc (ties: earlier insertion first), only scores > 0
    mean_score: float  # mean of the neighbours' scores (0.0 if none)


class NearDuplicateIndex(Protocol):
    threshold: float
    tokenizer: str

    def check(self, text: str, k: int = 10) -> Decision: ...

    def is_duplicate(self, text: str) -> bool: ...  # check(text).is_duplicate, computed faster

    def add(self, key: Key, text: str) -> None: ...

    def add_many(self, items: Iterable[tuple[Key, str]]) -> None: ...

    def remove(self, key: Key) -> None: ...

    def __len__(self) -> int: ...


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float if it lies in (0, 1], else raise ValueError."""
    value = float(threshold)
    if not 0.0 < value <= 1.0:  # also rejects NaN
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    return value


def check_k(k: int) -> int:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return k


def decide(threshold: float, max_score: float, neighbours: list[Neighbour]) -> Decision:
    """Both implementations build their Decision here, so that the mean is summed the same way."""
    mean = math.fsum(n.score for n in neighbours) / len(neighbours) if neighbours else 0.0
    return Decision(
        is_duplicate=max_score > threshold, max_score=max_score, neighbours=neighbours, mean_score=mean
    )
