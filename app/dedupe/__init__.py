"""Near-duplicate filtering by ROUGE-L, as in self-instruct and Alpaca, exact and fast.

Pure: no database, no web. ``make_index`` builds an index; ``check`` scores a text against every kept text
and ``add`` keeps one.
"""

from __future__ import annotations

from app.dedupe.decisions import Decision, Key, NearDuplicateIndex, Neighbour
from app.dedupe.index import FastIndex
from app.dedupe.tokenizers import ROUGE, TOKENIZER_NAMES, UNICODE, tokenize, tokenizer_for_language

IMPLEMENTATIONS = ("fast", "reference")

__all__ = [
    "IMPLEMENTATIONS",
    "ROUGE",
    "TOKENIZER_NAMES",
    "UNICODE",
    "Decision",
    "FastIndex",
    "Key",
    "NearDuplicateIndex",
    "Neighbour",
    "make_index",
    "tokenize",
    "tokenizer_for_language",
]


def make_index(*, threshold: float = 0.7, tokenizer: str = ROUGE, impl: str = "fast") -> NearDuplicateIndex:
    """A near-duplicate index: ``impl="fast"`` for production, ``"reference"`` for rouge-score's own loop."""
    if impl == "fast":
        return FastIndex(threshold=threshold, tokenizer=tokenizer)
    if impl == "reference":
        # rouge-score pulls in nltk, which takes a while to import; only the reference needs it.
        from app.dedupe.reference import ReferenceIndex

        return ReferenceIndex(threshold=threshold, tokenizer=tokenizer)
    raise ValueError(f"unknown index implementation {impl!r}; choose one of {', '.join(IMPLEMENTATIONS)}")
