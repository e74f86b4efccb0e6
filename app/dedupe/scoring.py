"""ROUGE-L F-measure from an LCS length, with rouge-score's floating-point operations in rouge-score's order.

rouge_score.rouge_scorer._score_lcs(target, prediction) takes precision = lcs / len(prediction) and
recall = lcs / len(target), and scoring.fmeasure returns 2 * precision * recall / (precision + recall).
The index calls the text being checked the target and the kept text the prediction (as the Alpaca
generator does). Swapping them swaps precision and recall and, since ``2 * p`` is exact, leaves every bit
of the result unchanged.

Threshold decisions hang on the last bit (LCS 7 between 9 and 11 tokens gives 0.7000000000000001 > 0.7), so
bounds use this same function. For fixed lengths the computed value strictly increases with the LCS: each
step raises the exact value by a factor (l + 1) / l, far above the few units in the last place that the
four rounded operations can move it (tests check this for every length pair up to 300), so an upper bound
on the LCS gives an upper bound on the score.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def rouge_l_fmeasure(lcs: int, target_length: int, prediction_length: int) -> float:
    """rouge-score's rougeL F-measure for an LCS of ``lcs`` tokens between the two lengths."""
    if lcs == 0 or target_length == 0 or prediction_length == 0:
        return 0.0
    precision = lcs / prediction_length
    recall = lcs / target_length
    return 2 * precision * recall / (precision + recall)


def rouge_l_fmeasures(
    lcs: npt.NDArray[np.integer], target_length: int, prediction_lengths: npt.NDArray[np.integer]
) -> npt.NDArray[np.float64]:
    """:func:`rouge_l_fmeasure` over arrays: numpy's float64 operations round exactly as Python's do."""
    lcs_f = lcs.astype(np.float64)
    no_lcs = lcs_f == 0
    # An LCS of 0 scores 0.0, as in rouge-score. Adding 1 to the zero denominators keeps 0 / 0 out (numpy
    # would warn); adding 0 elsewhere leaves every bit of the result as it was.
    precision = lcs_f / (prediction_lengths + (prediction_lengths == 0))
    recall = lcs_f / float(max(target_length, 1))
    return 2 * precision * recall / (precision + recall + no_lcs)


UNREACHABLE = np.int64(1 << 40)


def min_lcs_reaching(
    score: float, target_length: int, prediction_lengths: npt.NDArray[np.integer]
) -> npt.NDArray[np.int64]:
    """Per prediction length, the least LCS whose F-measure is >= ``score`` (UNREACHABLE if none is).

    The exact F-measure is 2 * lcs / (m + n), so the answer lies within a step of score * (m + n) / 2:
    rounding moves values by a few units in the last place, a step moves them by 2 / (m + n). Four
    candidates starting one below that estimate always contain it; each is checked with the exact function.
    """
    n = prediction_lengths.astype(np.int64)
    if score <= 0.0:
        return np.where(n > 0, np.int64(1), UNREACHABLE)
    longest = np.minimum(n, target_length)
    base = np.maximum(np.floor(score * (target_length + n) / 2).astype(np.int64) - 1, 1)
    needed = np.full(n.shape, UNREACHABLE, dtype=np.int64)
    for step in (3, 2, 1, 0):  # largest first, so that the least passing candidate is written last
        lcs = base + step
        passes = (lcs <= longest) & (rouge_l_fmeasures(lcs, target_length, n) >= score)
        needed = np.where(passes, lcs, needed)
    return needed
