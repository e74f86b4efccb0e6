"""How should the unicode tokenizer cut Hangul? Measured on KoAlpaca instructions with injected near copies.

For each way of cutting Hangul (syllables, space-separated eojeol, and Kiwi morphemes when kiwipiepy is
importable), prints:

* recall at the threshold: the share of (instruction, near copy) pairs scoring above it, by kind of edit
  (a particle or ending swapped, a word deleted or inserted, clauses reordered, a number changed);
* the false-positive rate on distinct pairs: the share of instructions whose best match among the *other*
  instructions scores above it (KoAlpaca translates Alpaca, whose instructions are pairwise below 0.7 in
  English, so each such match is a pair the English filter kept apart), and the same over random pairs.

The same edits on the English originals, scored with the rouge tokenizer, give the behaviour to match.

    PYTHONPATH=. .venv/bin/python bench/dedupe_korean_tokenizers.py [--sample 400] [--threshold 0.7]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

# The repository root, so that tests.shared_data imports when run as `python bench/...`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from app.dedupe.lcs import BitPattern
from app.dedupe.pool import TokenPool
from app.dedupe.scoring import rouge_l_fmeasure
from app.dedupe.search import top_scores
from app.dedupe.tokenizers import HangulMode, tokenize_rouge, tokenize_unicode
from tests import shared_data

Tokenizer = Callable[[str], list[str]]
Edit = Callable[[str, random.Random], str | None]


def shared_data_dir() -> Path:
    folder = shared_data.shared_data_dir()
    if not folder.is_dir():
        sys.exit(f"shared data not found at {folder}; set PASTURE_SHARED_DATA")
    return folder.resolve()


def read_instructions(name: str) -> list[str]:
    with (shared_data_dir() / name).open(encoding="utf-8") as lines:
        return [json.loads(line)["instruction"] for line in lines if line.strip()]


# ------------------------------------------------------------------------------------------ Korean edits

_PARTICLE_SWAPS = [
    ("은", "이"),
    ("는", "가"),
    ("이", "은"),
    ("가", "는"),
    ("을", ""),
    ("를", ""),
    ("에서", "에"),
]
_ENDING_SWAPS = [
    (r"하세요([.?!]?)$", ["하십시오\\1", "해 주세요\\1", "해줘\\1"]),
    (r"해 ?주세요([.?!]?)$", ["하세요\\1", "해주십시오\\1", "해줘\\1"]),
    (r"주세요([.?!]?)$", ["주십시오\\1", "줘\\1"]),
    (r"인가요\?$", ["입니까?", "일까요?"]),
    (r"나요\?$", ["습니까?", "는지 알려주세요."]),
    (r"십시오([.?!]?)$", ["세요\\1"]),
    (r"하시오([.?!]?)$", ["하세요\\1"]),
    (r"하라([.?!]?)$", ["하세요\\1"]),
]
_KOREAN_INSERTS = ["간단히", "자세히", "다음", "그리고", "좀", "꼭", "짧게", "모든"]
_KOREAN_NUMBERS = ["한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열"]


def swap_particle_or_ending(text: str, rng: random.Random) -> str | None:
    endings = [(pattern, options) for pattern, options in _ENDING_SWAPS if re.search(pattern, text)]
    words = text.split()
    particles = [
        (i, old, new)
        for i, word in enumerate(words[:-1])
        for old, new in _PARTICLE_SWAPS
        if len(word) > len(old) and word.endswith(old) and "\uac00" <= word[-len(old) - 1] <= "\ud7a3"
    ]
    if endings and (not particles or rng.random() < 0.5):
        pattern, options = rng.choice(endings)
        return re.sub(pattern, rng.choice(options), text)
    if not particles:
        return None
    i, old, new = rng.choice(particles)
    words[i] = words[i][: -len(old)] + new
    return " ".join(words)


def delete_word(text: str, rng: random.Random) -> str | None:
    words = text.split()
    if len(words) < 3:
        return None
    del words[rng.randrange(len(words) - 1)]  # the last eojeol holds the predicate
    return " ".join(words)


def insert_word(inserts: list[str]) -> Edit:
    def edit(text: str, rng: random.Random) -> str | None:
        words = text.split()
        words.insert(rng.randrange(len(words)), rng.choice(inserts))
        return " ".join(words)

    return edit


def reorder_clauses(text: str, rng: random.Random) -> str | None:
    if ", " in text:
        head, tail = text.split(", ", 1)
        end = tail[-1] if tail[-1] in ".?!" else ""
        return f"{tail.rstrip('.?!')}, {head}{end}"
    words = text.split()
    if len(words) < 3:
        return None
    i = rng.randrange(len(words) - 2)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def change_number(numbers: list[str]) -> Edit:
    word_pattern = re.compile(r"(?<!\S)(" + "|".join(numbers) + r")(?=\s)")

    def edit(text: str, rng: random.Random) -> str | None:
        digits = list(re.finditer(r"\d+", text))
        words = list(word_pattern.finditer(text))
        if not digits and not words:
            return None
        match = rng.choice(digits + words)
        if match.group().isdigit():
            new = str(int(match.group()) + rng.randint(1, 9))
        else:
            new = rng.choice([n for n in numbers if n != match.group()])
        return text[: match.start()] + new + text[match.end() :]

    return edit


KOREAN_EDITS: dict[str, Edit] = {
    "particle/ending": swap_particle_or_ending,
    "delete word": delete_word,
    "insert word": insert_word(_KOREAN_INSERTS),
    "reorder clauses": reorder_clauses,
    "change number": change_number(_KOREAN_NUMBERS),
}


# ----------------------------------------------------------------------------------------- English edits

_ENGLISH_SWAPS = [("the", "a"), ("a", "the"), ("of", "for"), ("in", "on"), ("for", "of"), ("an", "the")]
_ENGLISH_NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def swap_function_word(text: str, rng: random.Random) -> str | None:
    words = text.split()
    swaps = [(i, new) for i, w in enumerate(words) for old, new in _ENGLISH_SWAPS if w.lower() == old]
    if not swaps:
        return None
    i, new = rng.choice(swaps)
    words[i] = new
    return " ".join(words)


ENGLISH_EDITS: dict[str, Edit] = {
    "particle/ending": swap_function_word,
    "delete word": delete_word,
    "insert word": insert_word(["briefly", "please", "also", "the", "following", "short", "all"]),
    "reorder clauses": reorder_clauses,
    "change number": change_number(_ENGLISH_NUMBERS),
}


# -------------------------------------------------------------------------------------------- measuring


def kiwi_tokenizer() -> Tokenizer | None:
    """Kiwi morphemes (kiwipiepy ships its model in a wheel: no download at run time), if installed."""
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        return None
    kiwi = Kiwi()

    def tokenize(text: str) -> list[str]:
        folded = unicodedata.normalize("NFKC", text).casefold()
        return [
            t.form
            for t in kiwi.tokenize(folded)
            if not t.tag.startswith(("SF", "SP", "SS", "SE", "SO", "SW"))
        ]

    return tokenize


def score(a: list[str], b: list[str]) -> float:
    ids: dict[str, int] = {}
    pattern = BitPattern([ids.setdefault(t, len(ids)) for t in a])
    return rouge_l_fmeasure(pattern.lcs([ids.get(t, -1) for t in b]), len(a), len(b))


def near_copy_pairs(
    instructions: list[str], edits: dict[str, Edit], sample: int, seed: int
) -> dict[str, list]:
    rng = random.Random(seed)
    pairs: dict[str, list[tuple[int, str]]] = {name: [] for name in edits}
    for i in rng.sample(range(len(instructions)), len(instructions)):
        for name, edit in edits.items():
            if len(pairs[name]) < sample:
                copy = edit(instructions[i], rng)
                if copy is not None and copy != instructions[i]:
                    pairs[name].append((i, copy))
        if all(len(found) >= sample for found in pairs.values()):
            break
    return pairs


def best_other_scores(tokenized: list[list[str]], probes: list[int]) -> np.ndarray:
    """For each probe, the best exact score against every other instruction (the fast index's search)."""
    pool = TokenPool()
    pool.append([[pool.intern(t) for t in tokens] for tokens in tokenized])
    best = []
    for i in probes:
        slots, scores = top_scores(pool, tokenized[i], 2)
        others = [s for slot, s in zip(slots.tolist(), scores.tolist(), strict=True) if slot != i]
        best.append(others[0] if others else 0.0)
    return np.array(best)


def measure(
    name: str, tokenize: Tokenizer, instructions: list[str], pairs: dict[str, list], args: argparse.Namespace
) -> None:
    started = time.perf_counter()
    tokenized = [tokenize(text) for text in instructions]
    empty = sum(1 for tokens in tokenized if not tokens)
    cells = []
    all_scores = []
    for kind, found in pairs.items():
        scores = [score(tokenized[i], tokenize(copy)) for i, copy in found]
        all_scores += scores
        cells.append(f"{kind} {np.mean(np.array(scores) > args.threshold):6.1%}")
    recall = np.mean(np.array(all_scores) > args.threshold)
    rng = random.Random(args.seed)
    probes = rng.sample(range(len(instructions)), min(args.probes, len(instructions)))
    best = best_other_scores(tokenized, probes)
    random_pairs = [rng.sample(range(len(instructions)), 2) for _ in range(20000)]
    random_fp = np.mean([score(tokenized[a], tokenized[b]) > args.threshold for a, b in random_pairs])
    print(
        f"{name:<22} recall {recall:6.1%} (mean F {np.mean(all_scores):.3f})  "
        f"FP nearest-other {np.mean(best > args.threshold):6.2%} (mean best F {best.mean():.3f})  "
        f"FP random pairs {random_fp:.4%}  empty {empty}  [{time.perf_counter() - started:.0f} s]"
    )
    print(f"{'':<22} " + " | ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=400, help="near copies per kind of edit")
    parser.add_argument("--probes", type=int, default=2000, help="instructions probed for false positives")
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    korean = read_instructions("ko_alpaca_like.jsonl")
    english = read_instructions("alpaca_like.jsonl")[: len(korean)]
    print(
        f"KoAlpaca instructions: {len(korean)}; threshold {args.threshold}; "
        f"{args.sample} near copies per edit"
    )
    print("English originals of the same records, rouge tokenizer (the behaviour to match):")
    measure(
        "english / rouge",
        tokenize_rouge,
        english,
        near_copy_pairs(english, ENGLISH_EDITS, args.sample, 1),
        args,
    )
    print("Korean, unicode tokenizer with each Hangul cut:")
    korean_pairs = near_copy_pairs(korean, KOREAN_EDITS, args.sample, 1)
    tokenizers: dict[str, Tokenizer] = {
        "syllables": lambda text: tokenize_unicode(text, HangulMode.SYLLABLE),
        "eojeol": lambda text: tokenize_unicode(text, HangulMode.EOJEOL),
    }
    kiwi = kiwi_tokenizer()
    if kiwi is not None:
        tokenizers["kiwi morphemes"] = kiwi
    for name, tokenize in tokenizers.items():
        measure(name, tokenize, korean, korean_pairs, args)
    if kiwi is None:
        print("(kiwipiepy not importable: Kiwi morphemes not measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
