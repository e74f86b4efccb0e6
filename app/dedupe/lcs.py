"""Exact longest-common-subsequence lengths over token ids, bit-parallel.

Hyyrö's formulation of Allison and Dix: keep one bit per pattern position in a vector V (all ones at the
start); for each text token with match mask M (the pattern positions holding that token),
``U = V & M; V = (V + U) | (V - U)``. The LCS length is the number of zero bits left among the pattern's
positions. The carries of ``V + U`` do the dynamic programme's max() over a whole column at once.

Two drivers share it: :meth:`BitPattern.lcs` uses Python ints, which have no width limit and cost little
for one text; :meth:`BitPattern.lcs_many` runs the same recurrence over many texts at once with numpy,
one uint64 word per 64 pattern positions and the carries moved between words by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

_WORD_BITS = 64
_ALL_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def popcount(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Set bits per uint64 (numpy >= 2 has a ufunc; older numpy counts unpacked bytes)."""
    bitwise_count = getattr(np, "bitwise_count", None)
    if bitwise_count is not None:
        return np.asarray(bitwise_count(words), dtype=np.int64)
    as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1, dtype=np.int64)


class BitPattern:
    """One sequence's match masks, ready to compute its LCS with many other sequences.

    Token ids may be any ints; an id that no text contains (the index gives unseen tokens negative ids)
    still takes its position in the pattern.
    """

    __slots__ = ("_masks", "_word_masks", "distinct", "length", "words")

    def __init__(self, tokens: Sequence[int]) -> None:
        masks: dict[int, int] = {}
        for position, token in enumerate(tokens):
            masks[token] = masks.get(token, 0) | (1 << position)
        self._masks = masks
        self.length = len(tokens)
        self.words = max(1, -(-self.length // _WORD_BITS))
        #: The pattern's distinct token ids; :meth:`lcs_many` takes rows into this array.
        self.distinct = np.fromiter(masks, dtype=np.int64, count=len(masks))
        self._word_masks: npt.NDArray[np.uint64] | None = None  # built on the first lcs_many

    def _build_word_masks(self) -> npt.NDArray[np.uint64]:
        # One row per distinct token plus a final all-zero row, so that row -1 means "matches nothing".
        low_word = (1 << _WORD_BITS) - 1
        rows = [
            [(mask >> (word * _WORD_BITS)) & low_word for word in range(self.words)]
            for mask in self._masks.values()
        ]
        rows.append([0] * self.words)
        return np.array(rows, dtype=np.uint64)

    def lcs(self, text: Iterable[int]) -> int:
        """LCS length between the pattern and ``text``."""
        full = (1 << self.length) - 1
        v = full
        masks = self._masks
        for token in text:
            u = v & masks.get(token, 0)
            if u:
                # Carries may run past the pattern's top bit; they never come back down, and the count
                # below looks at the pattern's bits alone.
                v = (v + u) | (v - u)
        return self.length - (v & full).bit_count()

    def lcs_many(
        self, rows: npt.NDArray[np.integer], lengths: npt.NDArray[np.integer]
    ) -> npt.NDArray[np.int64]:
        """LCS lengths between the pattern and many texts at once.

        ``rows[j, i]`` is the row in :attr:`distinct` of text ``i``'s ``j``-th token, or -1 where that token
        is not in the pattern or text ``i`` has fewer than ``j + 1`` tokens. ``lengths`` (the texts' token
        counts) must not increase along the texts: position ``j`` then only touches the leading texts that
        are that long.
        """
        count = int(lengths.shape[0])
        if count == 0 or self.length == 0:
            return np.zeros(count, dtype=np.int64)
        steps = int(rows.shape[0])
        if self._word_masks is None:
            self._word_masks = self._build_word_masks()
        match = self._word_masks[rows]  # (steps, texts, words)
        # live[j]: how many leading texts still have a token at position j.
        live = (count - np.searchsorted(lengths[::-1], np.arange(steps), side="right")).tolist()
        if self.words == 1:
            v = self._run_one_word(match[:, :, 0], live, count)[:, None]
        else:
            v = self._run_words(match, live, count)
        low = np.zeros(self.words, dtype=np.uint64)
        full_words, rest = divmod(self.length, _WORD_BITS)
        low[:full_words] = _ALL_ONES
        if rest:
            low[full_words] = np.uint64((1 << rest) - 1)
        ones = popcount(v & low).sum(axis=1)
        return self.length - ones

    @staticmethod
    def _run_one_word(match: npt.NDArray[np.uint64], live: list[int], count: int) -> npt.NDArray[np.uint64]:
        v = np.full(count, _ALL_ONES, dtype=np.uint64)
        u = np.empty(count, dtype=np.uint64)
        added = np.empty(count, dtype=np.uint64)
        for step, n in enumerate(live):
            if n == 0:
                break
            vs, us, adds = v[:n], u[:n], added[:n]
            np.bitwise_and(vs, match[step, :n], out=us)
            np.add(vs, us, out=adds)
            np.subtract(vs, us, out=vs)
            np.bitwise_or(vs, adds, out=vs)
        return v

    def _run_words(
        self, match: npt.NDArray[np.uint64], live: list[int], count: int
    ) -> npt.NDArray[np.uint64]:
        v = np.full((count, self.words), _ALL_ONES, dtype=np.uint64)
        for step, n in enumerate(live):
            if n == 0:
                break
            vs = v[:n]
            u = vs & match[step, :n]
            total = vs + u  # word by word, wrapping; the carries follow
            carry = total < vs
            for word in range(1, self.words):
                incoming = carry[:, word - 1]
                # A carry into an all-ones word passes through to the next one.
                passes = incoming & (total[:, word] == _ALL_ONES)
                total[:, word] += incoming.astype(np.uint64)
                carry[:, word] |= passes
            vs -= u  # U is a subset of V word by word, so no borrows
            vs |= total
        return v
