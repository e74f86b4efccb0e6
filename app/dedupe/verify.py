"""Exact F-measures of candidate texts against the checked text, from the tokens the pool stores."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from app.dedupe.lcs import BitPattern
from app.dedupe.pool import TokenPool
from app.dedupe.scoring import rouge_l_fmeasures

# Up to this many texts are scored one by one with Python ints; more go through the numpy kernel, whose
# fixed cost per call is higher.
SMALL_BATCH = 32


def exact_scores(
    pool: TokenPool, pattern: BitPattern, slots: npt.NDArray[np.integer[Any]], lengths: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """Exact F-measures of ``slots``' texts against the pattern."""
    order = np.argsort(-lengths, kind="stable")
    sorted_slots, sorted_lengths = slots[order], lengths[order]
    # The numpy kernel takes one step per token of the longest text: the few texts much longer than the
    # rest go through Python ints instead.
    long_count = int(np.searchsorted(-sorted_lengths, -2 * int(sorted_lengths[-1]) - 8))
    long_count = min(long_count, SMALL_BATCH) if slots.shape[0] > SMALL_BATCH else slots.shape[0]
    lcs = np.empty(slots.shape[0], dtype=np.int64)
    flat = pool.flat
    starts = pool.offsets[sorted_slots[:long_count]].tolist()
    for i, (start, n) in enumerate(zip(starts, sorted_lengths[:long_count].tolist(), strict=True)):
        lcs[i] = pattern.lcs(flat[start : start + n].tolist())
    if long_count < slots.shape[0]:
        rest_slots, rest_lengths = sorted_slots[long_count:], sorted_lengths[long_count:]
        positions = np.arange(int(rest_lengths[0]))[:, None]
        # Positions past a text's end read flat[0], the padding id, which matches nothing.
        where = np.where(positions < rest_lengths, pool.offsets[rest_slots] + positions, 0)
        lcs[long_count:] = pattern.lcs_many(pool.pattern_row[flat[where]], rest_lengths)
    scores = np.empty(slots.shape[0], dtype=np.float64)
    scores[order] = rouge_l_fmeasures(lcs, pattern.length, sorted_lengths)
    return scores
