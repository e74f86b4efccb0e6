"""The kept texts as token ids: token runs per slot, an inverted index with counts, frequent-token masks.

Slots number the texts in insertion order and are never reused, so the slot order breaks score ties the
way the reference does (earlier insertion first). Arrays grow by doubling; a bulk load sorts all
(token, slot) pairs once instead of appending them one by one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

PAD = 0  # token id 0 names no token: it pads gathered token matrices and matches nothing

IntArray = npt.NDArray[np.int32]
ArrayT = TypeVar("ArrayT", bound=npt.NDArray[Any])
_EMPTY = np.zeros(0, dtype=np.int32)
# A posting list's unsorted tail is merged into its length-sorted part once it passes this size and an
# eighth of the sorted part: amortised O(log n) per append, and searches read little outside their window.
_TAIL_MIN = 32
# Tokens held by at least this many texts get one of 128 bits in a per-slot mask (first come, first
# served; the common words of a language cross it early, and a bulk load hands bits out most frequent
# first). A search then learns whether a text holds "the" from its mask instead of reading the 30,000
# postings of "the"; the tokens left without a bit are rare enough (in Alpaca, under 600 texts each at
# 52K) to be read in full.
FREQUENT_MIN_TEXTS = 64
FREQUENT_WORDS = 2
FREQUENT_BITS = 64 * FREQUENT_WORDS
# The first 16 frequent tokens ("the", "a", "of" ...) also get a 4-bit count per slot (15 meaning "15 or
# more"): long texts repeat them, and "holds it" alone would let a query with five "the" credit five to
# every text holding one.
COUNTED_BITS = 16
COUNT_CAP = 15


def _grown(array: ArrayT, needed: int, fill: int = 0) -> ArrayT:
    """``array`` if it holds ``needed`` rows, else a copy at least twice as long (new rows = fill)."""
    if needed <= array.shape[0]:
        return array
    grown = np.full((max(needed, 2 * array.shape[0], 16), *array.shape[1:]), fill, dtype=array.dtype)
    grown[: array.shape[0]] = array
    return cast(ArrayT, grown)


class TokenPool:
    """Token-id storage for the fast index; the search reads its arrays directly."""

    def __init__(self) -> None:
        self.token_ids: dict[str, int] = {}
        # Inverted index by token id: which slots hold the token, how many times, and how long each
        # slot's text is. Only the first ``posting_sizes[t]`` items are live, and the first
        # ``posting_sorted[t]`` of those are ordered by length, so that a search reads just the lengths
        # that can still matter; appends wait in an unsorted tail.
        self.posting_slots: list[IntArray] = [_EMPTY]
        self.posting_counts: list[IntArray] = [_EMPTY]
        self.posting_lengths: list[IntArray] = [_EMPTY]
        self.posting_sizes: list[int] = [0]
        self.posting_sorted: list[int] = [0]
        # The bit of each frequent token (absent: none), and per slot the bits of the tokens it holds.
        self.frequent_bit: dict[int, int] = {}
        self.frequent_masks = np.zeros((0, FREQUENT_WORDS), dtype=np.uint64)
        self.frequent_counts = np.zeros(0, dtype=np.uint64)  # 4 bits per counted token
        self.slot_count = 0
        self.offsets = np.zeros(0, dtype=np.int64)  # where each slot's tokens start in ``flat``
        self.lengths = np.zeros(0, dtype=np.int32)
        self.flat = np.zeros(1024, dtype=np.int32)  # every slot's token ids back to back; flat[0] = PAD
        self._flat_size = 1
        self.length_counts = np.zeros(64, dtype=np.int64)  # live texts by token count
        # Scratch for the search, all zero (or -1) between checks: per slot, overlap counted so far; per
        # token id, the checked text's pattern row.
        self.overlap = np.zeros(0, dtype=np.int32)
        self.pattern_row = np.full(1, -1, dtype=np.int32)

    def intern(self, token: str) -> int:
        token_id = self.token_ids.get(token)
        if token_id is None:
            token_id = len(self.posting_slots)
            self.token_ids[token] = token_id
            self.posting_slots.append(_EMPTY)
            self.posting_counts.append(_EMPTY)
            self.posting_lengths.append(_EMPTY)
            self.posting_sizes.append(0)
            self.posting_sorted.append(0)
            self.pattern_row = _grown(self.pattern_row, token_id + 1, fill=-1)
        return token_id

    # ------------------------------------------------------------------------------------------ adding

    def append(self, id_lists: list[list[int]]) -> int:
        """Store new slots' token ids and index them; return the first new slot."""
        if len(id_lists) == 1:
            return self._append_one(id_lists[0])
        first = self.slot_count
        self._store_tokens(id_lists)
        lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
        total = int(lengths.sum())
        if not total:
            return first
        tokens = np.fromiter((t for ids in id_lists for t in ids), dtype=np.int64, count=total)
        batch = len(id_lists)
        local_slots = np.repeat(np.arange(batch, dtype=np.int64), lengths)
        # One np.unique counts every (token, slot) pair and sorts the pairs by token, then slot.
        pairs, counts = np.unique(tokens * batch + local_slots, return_counts=True)
        pair_tokens = pairs // batch
        pair_slots = (pairs % batch + first).astype(np.int32)
        pair_lengths = self.lengths[pair_slots]
        starts = np.flatnonzero(np.r_[True, pair_tokens[1:] != pair_tokens[:-1]])
        ends = np.r_[starts[1:], pairs.shape[0]]
        batch_tokens = pair_tokens[starts].tolist()
        for token, start, end in zip(batch_tokens, starts.tolist(), ends.tolist(), strict=True):
            self._extend_postings(
                token, pair_slots[start:end], counts[start:end].astype(np.int32), pair_lengths[start:end]
            )
        self._assign_frequent_bits(batch_tokens)
        return first

    def _append_one(self, ids: list[int]) -> int:
        """``append`` for one text, with scalar stores: a stream adds texts one at a time."""
        slot, length, start = self.slot_count, len(ids), self._flat_size
        if slot == self.offsets.shape[0]:
            self.offsets = _grown(self.offsets, slot + 1)
            self.lengths = _grown(self.lengths, slot + 1)
            self.overlap = _grown(self.overlap, slot + 1)
            self.frequent_masks = _grown(self.frequent_masks, slot + 1)
            self.frequent_counts = _grown(self.frequent_counts, slot + 1)
        if start + length > self.flat.shape[0]:
            self.flat = _grown(self.flat, start + length)
        if length >= self.length_counts.shape[0]:
            self.length_counts = _grown(self.length_counts, length + 1)
        self.flat[start : start + length] = ids
        self.offsets[slot] = start
        self.lengths[slot] = length
        self.length_counts[length] += 1
        self._flat_size += length
        self.slot_count += 1
        mask = counts = 0
        for token, count in Counter(ids).items():
            size = self.posting_sizes[token]
            if size == self.posting_slots[token].shape[0]:
                for arrays in (self.posting_slots, self.posting_counts, self.posting_lengths):
                    arrays[token] = _grown(arrays[token], max(size + 1, 4))
            self.posting_slots[token][size] = slot
            self.posting_counts[token][size] = count
            self.posting_lengths[token][size] = length
            self.posting_sizes[token] = size + 1
            bit = self.frequent_bit.get(token)
            if bit is not None:
                mask |= 1 << bit
                if bit < COUNTED_BITS:
                    counts |= min(count, COUNT_CAP) << (4 * bit)
            if size + 1 - self.posting_sorted[token] > max(_TAIL_MIN, self.posting_sorted[token] // 8):
                self._sort_postings(token)
        if mask:
            self.frequent_masks[slot] = [
                (mask >> (64 * w)) & 0xFFFF_FFFF_FFFF_FFFF for w in range(FREQUENT_WORDS)
            ]
            self.frequent_counts[slot] = counts
        self._assign_frequent_bits(ids)
        return slot

    def _store_tokens(self, id_lists: list[list[int]]) -> None:
        first = self.slot_count
        end = first + len(id_lists)
        lengths = np.fromiter(map(len, id_lists), dtype=np.int32, count=len(id_lists))
        total = int(lengths.sum())
        self.flat = _grown(self.flat, self._flat_size + total)
        if total:
            self.flat[self._flat_size : self._flat_size + total] = np.fromiter(
                (t for ids in id_lists for t in ids), dtype=np.int32, count=total
            )
        self.offsets = _grown(self.offsets, end)
        self.lengths = _grown(self.lengths, end)
        self.overlap = _grown(self.overlap, end)
        self.frequent_masks = _grown(self.frequent_masks, end)
        self.frequent_counts = _grown(self.frequent_counts, end)
        self.offsets[first:end] = self._flat_size + np.cumsum(lengths) - lengths
        self.lengths[first:end] = lengths
        self._flat_size += total
        self.slot_count = end
        self.length_counts = _grown(self.length_counts, int(lengths.max(initial=0)) + 1)
        np.add.at(self.length_counts, lengths, 1)

    def _extend_postings(self, token: int, slots: IntArray, counts: IntArray, lengths: IntArray) -> None:
        size = self.posting_sizes[token]
        end = size + slots.shape[0]
        if end > self.posting_slots[token].shape[0]:
            self.posting_slots[token] = _grown(self.posting_slots[token], max(end, 4))
            self.posting_counts[token] = _grown(self.posting_counts[token], max(end, 4))
            self.posting_lengths[token] = _grown(self.posting_lengths[token], max(end, 4))
        self.posting_slots[token][size:end] = slots
        self.posting_counts[token][size:end] = counts
        self.posting_lengths[token][size:end] = lengths
        self.posting_sizes[token] = end
        bit = self.frequent_bit.get(token)
        if bit is not None:
            self._mark_frequent(bit, slots, counts)
        if end - self.posting_sorted[token] > max(_TAIL_MIN, self.posting_sorted[token] // 8):
            self._sort_postings(token)

    def _sort_postings(self, token: int) -> None:
        size = self.posting_sizes[token]
        order = np.argsort(self.posting_lengths[token][:size], kind="stable")
        for arrays in (self.posting_slots, self.posting_counts, self.posting_lengths):
            arrays[token][:size] = arrays[token][:size][order]
        self.posting_sorted[token] = size

    def _assign_frequent_bits(self, tokens: list[int]) -> None:
        """Give free bits to those of ``tokens`` that became frequent, the most frequent first."""
        free = FREQUENT_BITS - len(self.frequent_bit)
        if not free:
            return
        sizes, bits = self.posting_sizes, self.frequent_bit
        crossed = {t for t in tokens if sizes[t] >= FREQUENT_MIN_TEXTS and t not in bits}
        if not crossed:
            return
        for token in sorted(crossed, key=sizes.__getitem__, reverse=True)[:free]:
            bit = len(bits)
            bits[token] = bit
            size = sizes[token]
            self._mark_frequent(bit, self.posting_slots[token][:size], self.posting_counts[token][:size])

    def _mark_frequent(self, bit: int, slots: IntArray, counts: IntArray) -> None:
        self.frequent_masks[slots, bit // 64] |= np.uint64(1 << (bit % 64))
        if bit < COUNTED_BITS:
            capped = np.minimum(counts, COUNT_CAP).astype(np.uint64)
            self.frequent_counts[slots] |= capped << np.uint64(4 * bit)

    # ---------------------------------------------------------------------------------------- removing

    def tokens_of(self, slot: int) -> list[int]:
        start = int(self.offsets[slot])
        return self.flat[start : start + int(self.lengths[slot])].tolist()

    def drop(self, slot: int) -> None:
        """Take ``slot`` out of the inverted index and the length histogram (its tokens stay stored)."""
        for token in set(self.tokens_of(slot)):
            size = self.posting_sizes[token]
            at = int(np.flatnonzero(self.posting_slots[token][:size] == slot)[0])
            for arrays in (self.posting_slots, self.posting_counts, self.posting_lengths):
                arrays[token][at : size - 1] = arrays[token][at + 1 : size]
            self.posting_sizes[token] = size - 1
            if at < self.posting_sorted[token]:
                self.posting_sorted[token] -= 1
        self.length_counts[int(self.lengths[slot])] -= 1
        # A removed slot looks like an empty text to a search that sweeps every slot: it can score 0 only.
        self.lengths[slot] = 0
        self.frequent_masks[slot] = 0
        self.frequent_counts[slot] = 0

    # --------------------------------------------------------------------------------------- searching

    def live_lengths(self) -> npt.NDArray[np.int64]:
        """The positive token counts that some live text has."""
        present = np.flatnonzero(self.length_counts)
        return present[present > 0]

    def postings_within(self, token: int, shortest: int, longest: int) -> tuple[IntArray, IntArray, IntArray]:
        """Postings of ``token`` (slots, counts, lengths) for texts of ``shortest`` to ``longest`` tokens,
        plus the unsorted tail whatever its lengths (reading a posting too many is always safe)."""
        size, sorted_size = self.posting_sizes[token], self.posting_sorted[token]
        slots, counts, lengths = (
            self.posting_slots[token],
            self.posting_counts[token],
            self.posting_lengths[token],
        )
        start, stop = np.searchsorted(lengths[:sorted_size], (shortest, longest + 1)).tolist()
        if sorted_size == size:
            return slots[start:stop], counts[start:stop], lengths[start:stop]
        if start == 0 and stop == sorted_size:
            return slots[:size], counts[:size], lengths[:size]
        return (
            np.concatenate((slots[start:stop], slots[sorted_size:size])),
            np.concatenate((counts[start:stop], counts[sorted_size:size])),
            np.concatenate((lengths[start:stop], lengths[sorted_size:size])),
        )
