"""One check's exact top-k search over a TokenPool, scoring as few kept texts as it can prove enough.

Why it is exact:

* An LCS is at most the multiset overlap of the two token lists, and the F-measure rises with the LCS
  (scoring.py), so a text of n tokens can reach a score s only if that overlap reaches
  ``min_lcs_reaching(s, m, n)``, the "needed" LCS for its length.
* A text's overlap bound adds three parts. Frequent tokens (those with a bit in the pool's masks) count
  from its mask. Rare tokens read through the inverted index count exactly for the texts whose length was
  in the read's window; every other rare token counts in full (its query count).
* A text no rare read has met holds none of the rare tokens read at its length. Once the unread mass can
  no longer lift such texts to the floor at any live length, they are ruled out; if it still can, one
  sweep over every slot's mask finds the ones whose bound reaches it.
* Texts are scored exactly (bit-parallel LCS), best bound first. With k' = max(k, 1), the k'-th best exact
  score so far is a floor that the final k'-th score can only exceed: a text whose bound is below it never
  enters the top-k'. A bound equal to the floor is still scored, since a tie with an earlier-inserted text
  changes the order. Bounds only fall and the floor only rises, so a text ruled out stays out.

The top-1 is among the results, so the maximum score and the threshold decision are exact as well.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt

from app.dedupe.lcs import BitPattern, popcount
from app.dedupe.pool import COUNT_CAP, COUNTED_BITS, FREQUENT_WORDS, TokenPool
from app.dedupe.scoring import min_lcs_reaching
from app.dedupe.verify import exact_scores

# The rarest tokens are read over all lengths until this many postings (usually all the rare ones); the
# best texts they meet set a first floor, which decides how much of the rest must be read at all.
FIRST_SCAN_POSTINGS = 4096
FIRST_BATCH = 32
# Once no unmet text can reach the floor, a further rare token is read only to tighten the bounds of the
# open texts, and only if its postings are at most this many per open text: scoring a text costs about as
# much as reading that many postings.
POSTINGS_PER_OPEN_TEXT = 8

# Sweeping every slot's mask costs about as much as reading this many postings per slot.
SWEEP_COST_IN_POSTINGS = 1

# The overlap of a scored text: no later count lifts it back to an open bound.
_SCORED = np.int32(-(1 << 30))

Slots = npt.NDArray[np.integer[Any]]
Lengths = npt.NDArray[np.int32]
Scores = npt.NDArray[np.float64]


@functools.lru_cache(maxsize=4096)
def _needed_by_length(floor: float, m: int, longest: int) -> npt.NDArray[np.int64]:
    # Floors are ratios of small integers and recur across checks, so the table is worth keeping.
    needed = min_lcs_reaching(floor, m, np.arange(longest + 1))
    needed.setflags(write=False)
    return needed


def top_scores(
    pool: TokenPool, tokens: list[str], keep: int, at_least: float = 0.0, any_will_do: bool = False
) -> tuple[Slots, Scores]:
    """The ``keep`` best slots with a positive score against ``tokens``, best first (ties: lower slot).

    With ``at_least`` only scores >= it are wanted: the floor starts there, which prunes far more. With
    ``any_will_do`` the search stops at the first such score, which it returns alone.
    """
    sizes = pool.posting_sizes
    # Tokens no kept text has get distinct negative ids: they hold their place in the LCS and match nothing.
    ids = [pool.token_ids.get(token, -1 - position) for position, token in enumerate(tokens)]
    query_counts = Counter(t for t in ids if t > 0 and sizes[t])
    if not query_counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    rare = sorted((t for t in query_counts if t not in pool.frequent_bit), key=sizes.__getitem__)
    pattern = BitPattern(ids)
    known = pattern.distinct > 0
    pattern_tokens = pattern.distinct[known]
    pool.pattern_row[pattern_tokens] = np.flatnonzero(known)
    search = _Search(pool, pattern, keep, query_counts, at_least, any_will_do)
    try:
        next_term = 0
        if at_least == 0.0 and rare:  # no floor yet: read the rarest tokens everywhere, score their best
            next_term = 1
            read_postings = sizes[rare[0]]
            while next_term < len(rare) and read_postings + sizes[rare[next_term]] <= FIRST_SCAN_POSTINGS:
                read_postings += sizes[rare[next_term]]
                next_term += 1
            search.read_all_lengths(rare[:next_term])
            search.score_best(FIRST_BATCH)
        next_term += search.read_for_unmet(rare[next_term:], frequent=False)
        if next_term == len(rare) and search.unmet_may_reach():
            # Texts holding frequent query tokens only: read those tokens' postings (a read only marks texts
            # met; the masks count them), least frequent first, or sweep every mask once that is cheaper.
            frequent = sorted((t for t in query_counts if t in pool.frequent_bit), key=sizes.__getitem__)
            if sum(sizes[t] for t in frequent) > SWEEP_COST_IN_POSTINGS * pool.slot_count:
                search.sweep_masks()
            else:
                search.read_for_unmet(frequent, frequent=True)
        # Every text that can reach the floor is met; the remaining rare tokens may still be worth reading
        # to tighten the bounds of the open texts.
        for term in rare[next_term:]:
            if not search.read_for_open(term):
                break
        search.score_all()
        return search.ranked()
    finally:
        pool.pattern_row[pattern_tokens] = -1
        search.release()


class _Search:
    """Overlap counted so far, texts met, texts scored, and the floor."""

    def __init__(
        self,
        pool: TokenPool,
        pattern: BitPattern,
        keep: int,
        query_counts: Counter[int],
        at_least: float,
        any_will_do: bool,
    ) -> None:
        self._pool = pool
        self._pattern = pattern
        self._keep = keep
        self._query_counts = query_counts
        # Met texts not yet ruled out, with their lengths and what their frequent tokens add to their
        # bound (fixed for the whole check, so worked out once); new ones wait in lists.
        self._met: Slots = np.zeros(0, dtype=np.int32)
        self._met_lengths: Lengths = np.zeros(0, dtype=np.int32)
        self._met_frequent: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._new_met: list[tuple[Slots, Lengths, npt.NDArray[np.int64]]] = []
        self._touched: list[Slots] = []
        self._found_slots: list[Slots] = []
        self._found_scores: list[Scores] = []
        self._found_count = 0
        frequent = {t: pool.frequent_bit[t] for t in query_counts if t in pool.frequent_bit}
        mask = sum(1 << bit for bit in frequent.values())
        self._frequent_mask = np.array(
            [(mask >> (64 * word)) & 0xFFFF_FFFF_FFFF_FFFF for word in range(FREQUENT_WORDS)], dtype=np.uint64
        )
        self._mask_words = [
            (word, query_word) for word, query_word in enumerate(self._frequent_mask) if query_word
        ]
        # A query token held twice counts up to twice. The mask says only "held" (1): for the counted
        # tokens the slot's 4-bit count gives the rest (by a table over the 16 counts; 15 may hide more),
        # for the others the bound takes the query's count.
        every_count = np.arange(COUNT_CAP + 1)
        self._counted_repeats = [
            (
                np.uint64(4 * bit),
                np.where(every_count >= COUNT_CAP, query_counts[t], np.minimum(every_count, query_counts[t]))
                - (every_count > 0),
            )
            for t, bit in frequent.items()
            if query_counts[t] > 1 and bit < COUNTED_BITS
        ]
        # The most that repeats can add to a text's held count, for the sweep's first cut.
        self._most_repeats = sum(query_counts[t] - 1 for t in frequent)
        self._uncounted_repeats = [
            (bit // 64, np.uint64(1 << (bit % 64)), query_counts[t] - 1)
            for t, bit in frequent.items()
            if query_counts[t] > 1 and bit >= COUNTED_BITS
        ]
        rare_mass = sum(count for t, count in query_counts.items() if t not in frequent)
        frequent_mass = sum(query_counts[t] for t in frequent)
        longest = pool.length_counts.shape[0] - 1
        # By text length, the rare query mass not yet counted: in full in met texts' bounds, and as all an
        # unmet text may hold beside the frequent tokens.
        self._uncounted = np.full(longest + 1, rare_mass, dtype=np.int64)
        # By text length, the frequent query mass whose postings were not read (an unmet text may hold it).
        self._frequent_unread = np.full(longest + 1, frequent_mass, dtype=np.int64)
        self._live_length = pool.length_counts > 0
        self._live_length[0] = False
        self._at_least = at_least
        self._any_will_do = any_will_do
        self.floor = at_least
        self._needed = _needed_by_length(at_least, pattern.length, longest)

    # -------------------------------------------------------------------------------------------- reading

    def read_all_lengths(self, terms: list[int]) -> None:
        """Read the first (rarest) tokens in one go, for every length: nothing is ruled out yet."""
        pool = self._pool
        sizes, query_counts = pool.posting_sizes, self._query_counts
        slots = np.concatenate([pool.posting_slots[t][: sizes[t]] for t in terms])
        counted: npt.NDArray[np.int32] | int = 1
        if any(query_counts[t] > 1 for t in terms):
            counted = np.concatenate(
                [np.minimum(pool.posting_counts[t][: sizes[t]], query_counts[t]) for t in terms]
            )
        met = _unmet_once(pool.overlap, slots)
        np.add.at(pool.overlap, slots, counted)
        pool.overlap[met] += 1  # overlap holds 1 + the count, so that 0 means "not met"
        self._touched.append(met)
        self._add_met(met, pool.lengths[met])
        self._uncounted -= sum(query_counts[t] for t in terms)

    def _may_reach(self) -> npt.NDArray[np.bool_]:
        """By length: whether a text no read has met could still reach the floor."""
        return self._live_length & (self._needed <= self._uncounted + self._frequent_unread)

    def unmet_may_reach(self) -> bool:
        return bool(self._may_reach().any())

    def read_for_unmet(self, terms: list[int], *, frequent: bool) -> int:
        """Read ``terms`` in order, each for the lengths where an unmet text may still reach the floor, until
        none may; return how many were read.

        A rare token's postings add to the overlap; a frequent token's only mark texts met, since the masks
        count it. Each window follows from the previous reads alone (the floor does not move meanwhile),
        so the windows are worked out first and all postings read in one go.
        """
        pool = self._pool
        unread = self._frequent_unread if frequent else self._uncounted
        windows: list[tuple[int, int, int]] = []
        for term in terms:
            lengths = np.flatnonzero(self._may_reach())
            if not lengths.shape[0]:
                break
            shortest, longest = int(lengths[0]), int(lengths[-1])
            windows.append((term, shortest, longest))
            unread[shortest : longest + 1] -= self._query_counts[term]
        if not windows:
            return 0
        parts = [pool.postings_within(term, shortest, longest) for term, shortest, longest in windows]
        slots = np.concatenate([part[0] for part in parts]) if len(parts) > 1 else parts[0][0]
        overlap = pool.overlap
        # Met only now: none of the tokens read before at their length (the windows only shrink) is held.
        met_now = _unmet_once(overlap, slots)
        self._touched.append(met_now)
        if frequent:
            overlap[met_now] = 1  # met, nothing counted: overlap holds 1 + the count
            self._meet_if_reaching(met_now)
            return len(windows)
        counted: npt.NDArray[np.int32] | int = 1
        if any(self._query_counts[term] > 1 for term, _, _ in windows):
            counted = np.concatenate(
                [
                    np.minimum(part[1], self._query_counts[term])
                    for part, (term, _, _) in zip(parts, windows, strict=True)
                ]
            )
        np.add.at(overlap, slots, counted)
        overlap[met_now] += 1
        self._add_met(met_now, pool.lengths[met_now])
        return len(windows)

    def read_for_open(self, term: int) -> bool:
        """Read rare ``term`` for the open texts' lengths if they are many enough to pay for its postings."""
        open_slots, open_lengths, _ = self._open()
        if open_slots.shape[0] * POSTINGS_PER_OPEN_TEXT < self._pool.posting_sizes[term]:
            return False
        shortest, longest = int(open_lengths.min()), int(open_lengths.max())
        pool = self._pool
        slots, counts, _ = pool.postings_within(term, shortest, longest)
        overlap = pool.overlap
        before = overlap[slots]
        first_met = before == 0
        # No unmet text can reach the floor any more: those met now are only marked, never kept.
        self._touched.append(slots[first_met])
        query_count = self._query_counts[term]
        counted = 1 if query_count == 1 else np.minimum(counts, query_count)
        overlap[slots] = before + first_met + counted
        self._uncounted[shortest : longest + 1] -= query_count
        return True

    def _meet_if_reaching(self, slots: Slots) -> None:
        """Keep as met those of ``slots`` (unmet until now: no rare token read) whose bound reaches."""
        lengths = self._pool.lengths[slots]
        frequent = self._frequent_bounds(slots)
        reach = frequent + self._uncounted[lengths] >= self._needed[lengths]
        self._new_met.append((slots[reach], lengths[reach], frequent[reach]))

    def _add_met(self, slots: Slots, lengths: Lengths) -> None:
        self._new_met.append((slots, lengths, self._frequent_bounds(slots)))

    def sweep_masks(self) -> None:
        """Meet every unmet text whose frequent tokens (and the unread rare ones) may reach the floor.

        One pass over all slots' masks, on contiguous arrays, costs less than reading the postings of
        "the", "a" and "of".
        """
        pool = self._pool
        every = slice(0, pool.slot_count)
        # First a cheap cut on the frequent tokens held alone: at no live length can fewer reach.
        live = self._live_length
        if not live.any():
            return
        least = int((self._needed[live] - self._uncounted[live]).min()) - self._most_repeats
        masks = pool.frequent_masks[every]
        held = np.zeros(masks.shape[0], dtype=np.int64)
        for word, query_word in self._mask_words:
            held += popcount(masks[:, word] & query_word)
        candidates = np.flatnonzero(held >= least)
        lengths = pool.lengths[candidates]
        frequent = self._frequent_bounds(candidates)
        reach = (frequent + self._uncounted[lengths] >= self._needed[lengths]) & (
            pool.overlap[candidates] == 0
        )
        met_now = candidates[reach]
        pool.overlap[met_now] = 1  # met, nothing counted: the masks count frequent tokens
        self._touched.append(met_now)
        self._new_met.append((met_now, lengths[reach], frequent[reach]))

    def _frequent_bounds(self, slots: Slots | slice) -> npt.NDArray[np.int64]:
        """Per slot, the most the frequent query tokens can add to its overlap."""
        pool = self._pool
        masks = pool.frequent_masks[slots]
        bounds: npt.NDArray[np.int64] = np.zeros(masks.shape[0], dtype=np.int64)
        for word, query_word in self._mask_words:
            bounds += popcount(masks[:, word] & query_word)
        if self._counted_repeats:
            counts = pool.frequent_counts[slots]
            for shift, extra_by_count in self._counted_repeats:
                bounds += extra_by_count[(counts >> shift) & np.uint64(COUNT_CAP)]
        for word, bit, extra in self._uncounted_repeats:
            bounds += ((masks[:, word] & bit) != 0) * extra
        return bounds

    # -------------------------------------------------------------------------------------------- scoring

    def _open(self) -> tuple[Slots, Lengths, npt.NDArray[np.integer[Any]]]:
        """Met, unscored slots whose bound reaches the floor, with their lengths and bounds (in tokens)."""
        if self._new_met:
            self._met = np.concatenate((self._met, *(new[0] for new in self._new_met)))
            self._met_lengths = np.concatenate((self._met_lengths, *(new[1] for new in self._new_met)))
            self._met_frequent = np.concatenate((self._met_frequent, *(new[2] for new in self._new_met)))
            self._new_met = []
        met, lengths = self._met, self._met_lengths
        bounds = self._pool.overlap[met] - 1 + self._uncounted[lengths] + self._met_frequent
        reach = bounds >= self._needed[lengths]
        # Bounds only fall and the floor only rises: a text that fails now fails for good.
        self._met, self._met_lengths, self._met_frequent = (
            met[reach],
            lengths[reach],
            self._met_frequent[reach],
        )
        return self._met, self._met_lengths, bounds[reach]

    def _best_bounded(self, count: int) -> tuple[Slots, Lengths]:
        slots, lengths, bounds = self._open()
        if slots.shape[0] <= count:
            return slots, lengths
        m = self._pattern.length
        # Only an order is needed here, not exact scores: lcs / (m + n) ranks as the F-measure does.
        ranks = np.minimum(bounds, np.minimum(lengths, m)) / (lengths + m)
        best = np.argpartition(ranks, slots.shape[0] - count)[-count:]
        return slots[best], lengths[best]

    def score_best(self, count: int) -> None:
        """Score the ``count`` open texts with the highest bounds."""
        slots, lengths = self._best_bounded(count)
        if slots.shape[0]:
            self._score(slots, lengths)

    def score_all(self) -> None:
        """Score every open text, best bound first, in batches that raise the floor as they go."""
        batch = FIRST_BATCH
        while True:
            slots, lengths = self._best_bounded(2 * batch)
            if not slots.shape[0]:
                return
            batch *= 2
            self._score(slots, lengths)
            if self._any_will_do and self._found_scores[-1].max() >= self._at_least > 0.0:
                return

    def _score(self, slots: Slots, lengths: Lengths) -> None:
        scores = exact_scores(self._pool, self._pattern, slots, lengths)
        self._pool.overlap[slots] = _SCORED
        self._found_slots.append(slots)
        self._found_scores.append(scores)
        self._found_count += slots.shape[0]
        if self._found_count < self._keep:
            return
        if len(self._found_scores) > 1:
            self._found_scores = [np.concatenate(self._found_scores)]
            self._found_slots = [np.concatenate(self._found_slots)]
        found = self._found_scores[0]
        floor = float(np.partition(found, found.shape[0] - self._keep)[found.shape[0] - self._keep])
        if floor > self.floor:
            self.floor = floor
            self._needed = _needed_by_length(floor, self._pattern.length, self._needed.shape[0] - 1)

    def ranked(self) -> tuple[Slots, Scores]:
        if not self._found_slots:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        slots = np.concatenate(self._found_slots)
        scores = np.concatenate(self._found_scores)
        wanted = (scores > 0) & (scores >= self._at_least)
        slots, scores = slots[wanted], scores[wanted]
        order = np.lexsort((slots, -scores))[: self._keep]
        return slots[order], scores[order]

    def release(self) -> None:
        """Zero the scratch this check touched, for the next one."""
        if self._touched:
            self._pool.overlap[np.concatenate(self._touched)] = 0


def _unmet_once(overlap: npt.NDArray[np.int32], slots: Slots) -> Slots:
    """The distinct unmet (overlap 0) slots among ``slots``, which may repeat; their overlap stays 0.

    Cheaper than np.unique: each unmet slot is stamped with its position, and only the position that
    stuck (the last write) keeps it.
    """
    unmet = slots[overlap[slots] == 0]
    stamps = -2 - np.arange(unmet.shape[0], dtype=np.int32)
    overlap[unmet] = stamps
    once = unmet[overlap[unmet] == stamps]
    overlap[once] = 0
    return once
