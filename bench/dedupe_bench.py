"""The near-duplicate index against rouge-score's own loop, on the 52K Alpaca instructions.

Prints, for a pool of all 52,002 Alpaca instructions: per-candidate p50/p99 of the fast index and of the
reference loop (RougeScorer over the whole pool, timed on a sample of the same candidates), their ratio;
the whole 52K stream de-duplicated at 0.7 in order, its time, and whether its kept set equals that of an
exact checker; peak memory; and how the per-candidate cost grows from 1K to 52K to 1M kept instructions.

The streams run in a fresh interpreter each, so that the peak resident memory printed is theirs alone.
Candidates are instructions Alpaca does not hold: the 175 self-instruct seed tasks and the 252
user-oriented evaluation instructions. The 1M pool is synthetic (see ``synthetic_pool``).

    PYTHONPATH=. .venv/bin/python bench/dedupe_bench.py [--reference-samples 12] [--skip-million]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import cast

# The repository root, so that tests.shared_data imports when run as `python bench/...`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rouge_score import rouge_scorer
from rouge_score import tokenize as rouge_tokenize

from app.dedupe import make_index
from app.dedupe.index import FastIndex
from app.dedupe.stream import dedupe_stream
from tests import shared_data

THRESHOLD = 0.7


def shared_data_dir() -> Path:
    folder = shared_data.shared_data_dir()
    if not folder.is_dir():
        sys.exit(f"shared data not found at {folder}; set PASTURE_SHARED_DATA")
    return folder.resolve()


def read_instructions(name: str) -> list[str]:
    with (shared_data_dir() / name).open(encoding="utf-8") as lines:
        return [json.loads(line)["instruction"] for line in lines if line.strip()]


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return (
        f"p50 {np.percentile(ms, 50):9.3f} ms  p99 {np.percentile(ms, 99):9.3f} ms  mean {ms.mean():9.3f} ms"
    )


def time_each(call: Callable[[str], object], candidates: list[str], repeat: int = 3) -> list[float]:
    """Per candidate, the best of ``repeat`` timings (the machine is shared; the best is the least noisy)."""
    best = [float("inf")] * len(candidates)
    for _ in range(repeat):
        for i, text in enumerate(candidates):
            started = time.perf_counter()
            call(text)
            best[i] = min(best[i], time.perf_counter() - started)
    return best


# ------------------------------------------------------------------------------------------ exact checker


def exact_stream_kept(texts: list[str], threshold: float) -> list[int]:
    """The kept positions of the stream, by a checker that is exact on its face.

    A kept text can exceed the threshold only if 2 * bound / (m + n) >= threshold - 1e-9, where bound is
    the sum, over the candidate's distinct tokens, of their counts in the candidate when the kept text
    holds them (at least the LCS; the slack covers rounding). Those texts are scored with rouge-score's
    own ``_score_lcs`` on rouge-score's own tokens. Token presence is counted with numpy's bincount over
    plain per-token lists of kept positions.
    """
    postings: dict[str, list[int]] = {}
    tokens_of: list[list[str]] = []
    lengths: list[int] = []
    kept: list[int] = []
    for position, text in enumerate(texts):
        tokens = rouge_tokenize.tokenize(text, None)
        counts = Counter(tokens)
        m = len(tokens)
        duplicate = False
        if m and kept:
            shared = [
                (np.asarray(postings[t], dtype=np.int64), c) for t, c in counts.items() if t in postings
            ]
            if shared:
                slots = np.concatenate([s for s, _ in shared])
                weights = np.concatenate([np.full(s.shape[0], c, dtype=np.float64) for s, c in shared])
                bound = np.bincount(slots, weights=weights, minlength=len(kept))
                n = np.array(lengths, dtype=np.float64)
                bound_lcs = np.minimum(bound, np.minimum(n, m))
                for slot in np.flatnonzero(2 * bound_lcs / (m + n) >= threshold - 1e-9).tolist():
                    score = rouge_scorer._score_lcs(tokens, tokens_of[slot]).fmeasure
                    if score > threshold:
                        duplicate = True
                        break
        if not duplicate:
            slot = len(kept)
            kept.append(position)
            tokens_of.append(tokens)
            lengths.append(m)
            for token in counts:
                postings.setdefault(token, []).append(slot)
    return kept


# ----------------------------------------------------------------------------------------- synthetic pool


def synthetic_pool(instructions: list[str], size: int, seed: int = 0) -> list[str]:
    """``size`` instruction-like texts: the real ones, then recombinations of them.

    Each made-up text joins the first part of one real instruction (cut at a random word) to the last part
    of another, and with probability 1/2 replaces one word by a random word of the corpus: the lengths,
    the word frequencies and the kinds of near neighbours stay those of real instructions.
    """
    rng = random.Random(seed)
    split = [text.split() for text in instructions]
    vocabulary = [word for words in split for word in words]
    pool = list(instructions)
    while len(pool) < size:
        head, tail = rng.choice(split), rng.choice(split)
        words = head[: rng.randint(1, max(1, len(head) - 1))] + tail[rng.randint(1, max(1, len(tail) - 1)) :]
        if rng.random() < 0.5:
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
        pool.append(" ".join(words))
    return pool[:size]


# ------------------------------------------------------------------------------------------------- parts


def compare_with_reference(pool: list[str], candidates: list[str], samples: int) -> None:
    print(f"\n== per candidate at a pool of {len(pool):,} Alpaca instructions ({len(candidates)} candidates)")
    started = time.perf_counter()
    fast = make_index(threshold=THRESHOLD)
    fast.add_many(enumerate(pool))
    print(f"fast index built with add_many in {time.perf_counter() - started:.2f} s")
    fast_k10 = time_each(lambda t: fast.check(t, k=10), candidates)
    fast_k1 = time_each(lambda t: fast.check(t, k=1), candidates)
    fast_dup = time_each(fast.is_duplicate, candidates)
    print(f"fast check(k=10)       {percentiles(fast_k10)}")
    print(f"fast check(k=1)        {percentiles(fast_k1)}")
    print(f"fast is_duplicate      {percentiles(fast_dup)}")

    reference = make_index(threshold=THRESHOLD, impl="reference")
    reference.add_many(enumerate(pool))
    sample = random.Random(1).sample(range(len(candidates)), samples)
    reference_times = []
    same = True
    for i in sample:
        started = time.perf_counter()
        expected = reference.check(candidates[i], k=10)
        reference_times.append(time.perf_counter() - started)
        same &= fast.check(candidates[i], k=10) == expected
    print(f"reference check(k=10)  {percentiles(reference_times)}  ({samples} sampled candidates)")
    sampled_fast = [fast_k10[i] for i in sample]
    reference_p50 = statistics.median(reference_times)
    print(
        f"ratio reference / fast check(k=10): p50 {reference_p50 / np.median(fast_k10):,.0f}x, "
        f"same candidates {np.mean(np.array(reference_times) / np.array(sampled_fast)):,.0f}x mean; "
        f"reference / fast is_duplicate p50 {reference_p50 / np.median(fast_dup):,.0f}x"
    )
    print(f"decisions, scores and top-10 identical on the sampled candidates: {same}")


def run_stream(instructions: list[str], mode: str) -> dict[str, object]:
    """De-duplicate the stream in order with ``is_duplicate`` (the CLI) or ``check(k=10)`` (the job loop)."""
    index = make_index(threshold=THRESHOLD)
    started, cpu = time.perf_counter(), time.process_time()
    if mode == "is_duplicate":
        kept = [key for key, is_kept in dedupe_stream(enumerate(instructions), index) if is_kept]
    else:
        kept = []
        for key, text in enumerate(instructions):
            if not index.check(text, k=10).is_duplicate:
                index.add(key, text)
                kept.append(key)
    return {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu, "kept": kept}


def stream_in_child(mode: str) -> dict[str, object]:
    """``run_stream`` in a fresh interpreter, so that its peak resident memory is its own."""
    child = subprocess.run(
        [sys.executable, __file__, "--stream-child", mode], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(child.stdout)
    return result


def stream(instructions: list[str], skip_checker: bool) -> None:
    print(f"\n== the {len(instructions):,}-instruction Alpaca stream, in order, threshold {THRESHOLD}")
    results = {}
    for mode, what in [
        ("is_duplicate", "is_duplicate + add (the CLI)"),
        ("k10", "check(k=10) + add (job loop)"),
    ]:
        result = results[mode] = stream_in_child(mode)
        kept = cast(list[int], result["kept"])
        print(
            f"{what:<30} {result['wall']:6.1f} s wall, {result['cpu']:6.1f} s CPU; kept {len(kept):,}, "
            f"rejected {len(instructions) - len(kept):,}; "
            f"peak RSS of the whole process {result['rss_mib']:.0f} MiB"
        )
    if skip_checker:
        return
    started = time.perf_counter()
    expected = exact_stream_kept(instructions, THRESHOLD)
    same = all(result["kept"] == expected for result in results.values())
    print(
        f"exact checker (overlap bound + rouge-score's _score_lcs): {time.perf_counter() - started:.0f} s; "
        f"same kept set in the same order: {same}"
    )
    # Alpaca holds no near duplicates at 0.7, so the same again on a stream where about one in five is one.
    rng = random.Random(5)
    injected: list[str] = []
    for text in instructions[:20_000]:
        injected.append(text)
        if rng.random() < 0.25:
            injected.append(near_copy(text, rng))
    fast_kept = cast(list[int], run_stream(injected, "is_duplicate")["kept"])
    k10_kept = cast(list[int], run_stream(injected, "k10")["kept"])
    expected = exact_stream_kept(injected, THRESHOLD)
    same = fast_kept == k10_kept == expected
    print(
        f"first 20,000 with {len(injected) - 20_000:,} near copies injected: kept {len(expected):,}, "
        f"rejected {len(injected) - len(expected):,}; same kept set as the exact checker: {same}"
    )


def near_copy(text: str, rng: random.Random) -> str:
    """One word dropped, two swapped, or one repeated: most land above 0.7, some below."""
    words = text.split()
    if len(words) < 3:
        return text + " now"
    i, j = sorted(rng.sample(range(len(words)), 2))
    change = rng.choice(["drop", "swap", "repeat"])
    if change == "drop":
        del words[i]
    elif change == "swap":
        words[i], words[j] = words[j], words[i]
    else:
        words.insert(j, words[i])
    return " ".join(words)


def growth(instructions: list[str], candidates: list[str], sizes: list[int]) -> None:
    print("\n== growth of the per-candidate cost with the pool (synthetic past 52,002: see synthetic_pool)")
    pool = synthetic_pool(instructions, max(sizes))
    for size in sizes:
        print(growth_row(pool[:size], candidates))


def growth_row(pool: list[str], candidates: list[str]) -> str:
    tracemalloc.start()
    started = time.perf_counter()
    index = FastIndex(threshold=THRESHOLD)
    index.add_many(enumerate(pool))
    built = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    k10 = time_each(lambda t: index.check(t, k=10), candidates, repeat=2)
    dup = time_each(index.is_duplicate, candidates, repeat=2)
    return (
        f"pool {len(pool):>9,}: build {built:5.1f} s, {peak / 2**20:5.0f} MiB traced | "
        f"check(k=10) p50 {np.median(k10) * 1e3:6.3f} ms p99 {np.percentile(k10, 99) * 1e3:6.3f} ms | "
        f"is_duplicate p50 {np.median(dup) * 1e3:6.3f} ms p99 {np.percentile(dup, 99) * 1e3:6.3f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-samples", type=int, default=12, help="candidates timed on the reference")
    parser.add_argument("--skip-million", action="store_true", help="stop the growth table at 52K")
    parser.add_argument("--skip-checker", action="store_true", help="do not re-run the stream exactly")
    parser.add_argument("--stream-child", choices=["is_duplicate", "k10"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    instructions = read_instructions("alpaca_like.jsonl")
    if args.stream_child:
        result = run_stream(instructions, args.stream_child)
        result["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0
    candidates = read_instructions("seed_tasks.jsonl") + read_instructions("user_oriented_instructions.jsonl")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs, one core used")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    compare_with_reference(instructions, candidates, args.reference_samples)
    stream(instructions, args.skip_checker)
    sizes = [1_000, 10_000, len(instructions)] + ([] if args.skip_million else [1_000_000])
    growth(instructions, candidates, sizes)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of this process: {peak_rss:.0f} MiB")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
