"""Tokenizers whose tokens the ROUGE-L index compares.

``rouge`` reproduces rouge-score's default tokenizer (no stemming) exactly, so scores on English match the
published self-instruct / Alpaca filter. rouge-score keeps only ``[a-z0-9]``, so every Korean or Chinese text
tokenizes to nothing there and identical texts score 0; ``unicode`` is the tokenizer for those languages.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Callable

ROUGE = "rouge"
UNICODE = "unicode"

# rouge_score.tokenize lower-cases, turns every run outside [a-z0-9] into a space and splits. Matching the
# runs directly gives the same tokens. The lower-casing must stay str.lower(): a few non-ASCII letters lower
# to ASCII ("K" Kelvin sign -> "k", "İ" -> "i" + a combining dot) and rouge-score keeps them.
_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize_rouge(text: str) -> list[str]:
    """rouge-score's default tokenizer without stemming: lower-case ``[a-z0-9]+`` runs."""
    return _ROUGE_TOKEN.findall(text.lower())


class HangulMode(enum.StrEnum):
    """How the unicode tokenizer cuts Hangul.

    ``syllable`` makes every syllable a token, as CJK ideographs are. ``eojeol`` keeps each space-separated
    word (stem plus particles and endings) whole, as English words are kept.
    """

    SYLLABLE = "syllable"
    EOJEOL = "eojeol"


# Chosen by bench/dedupe_korean_tokenizers.py on KoAlpaca at threshold 0.7: eojeol caught 97.3% of injected
# near copies and flagged 5.8% of instructions as near duplicates of distinct ones (whose English originals
# score below 0.7); syllables caught 99.2% but flagged 22.4%, Kiwi morphemes 98.7% and 32.7%. Shared
# particles, endings and common syllables lift unrelated Korean pairs far more than shared words lift
# English ones (English: 99.1% caught, 0% flagged).
DEFAULT_HANGUL_MODE = HangulMode.EOJEOL

# Scripts written without spaces between words: each character is a token, so that a changed word costs a
# few tokens rather than the whole phrase. Ranges are the Unicode blocks (after NFKC, compatibility forms
# such as half-width katakana have already become these).
_IDEOGRAPHS_AND_KANA = (
    "\u3005\u3007"  # 々 iteration mark, 〇 ideographic zero
    "\u3040-\u30ff"  # hiragana, katakana
    "\u31f0-\u31ff"  # katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U0001b000-\U0001b16f"  # kana supplement and extended-A
    "\U00020000-\U0003134f"  # CJK extensions B-G and the compatibility supplement
    "\U00031350-\U000323af"  # CJK extension H
)
_HANGUL = (
    "\u1100-\u11ff"  # conjoining jamo
    "\u3130-\u318f"  # compatibility jamo (ㅋㅋ)
    "\ua960-\ua97f"  # jamo extended-A
    "\uac00-\ud7a3"  # syllables
    "\ud7b0-\ud7ff"  # jamo extended-B
)


@functools.cache
def _combining_marks() -> str:
    """A regex class body holding every combining mark (categories Mn, Mc, Me).

    Marks are kept inside words: vowel signs of Devanagari, Thai and other scripts are marks, and cutting on
    them would split every word. Python's ``re`` has no ``\\p{M}``, so the class is built once from
    unicodedata (Unicode places no marks outside planes 0, 1 and 14).
    """
    code_points = [*range(0x20000), *range(0xE0000, 0xE1000)]
    ranges: list[tuple[int, int]] = []
    for cp in code_points:
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


@functools.cache
def _unicode_token_pattern(hangul: HangulMode) -> re.Pattern[str]:
    marks = _combining_marks()
    single = _IDEOGRAPHS_AND_KANA + (_HANGUL if hangul is HangulMode.SYLLABLE else "")
    # A word starts with a letter or digit of any script ([^\W_] is str.isalnum()) that is not a
    # single-character script, and goes on through letters, digits and marks. A mark with no letter before
    # it (an emoji's variation selector, say) is a separator like any symbol.
    word_char = f"(?![{single}])[^\\W_]"
    return re.compile(f"[{single}][{marks}]*|{word_char}(?:{word_char}|[{marks}])*")


def tokenize_unicode(text: str, hangul: HangulMode = DEFAULT_HANGUL_MODE) -> list[str]:
    """NFKC + case folding; letters, digits and marks of every script form tokens, anything else separates.

    CJK ideographs and kana are one token per character; Hangul follows ``hangul``.
    """
    # Case folding can leave a string that NFKC would change again (it decomposes some letters), so
    # normalise on both sides: equal-looking inputs then always give equal tokens.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _unicode_token_pattern(HangulMode(hangul)).findall(folded)


_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {ROUGE: tokenize_rouge, UNICODE: tokenize_unicode}
TOKENIZER_NAMES: tuple[str, ...] = tuple(_TOKENIZERS)


def check_tokenizer(name: str) -> str:
    """Return ``name`` if it names a tokenizer, else raise ValueError listing the names."""
    if name not in _TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZER_NAMES)}")
    return name


def tokenize(text: str, tokenizer: str) -> list[str]:
    """The tokens the index compares for ``text`` under the named tokenizer (``rouge`` or ``unicode``)."""
    return _TOKENIZERS[check_tokenizer(tokenizer)](text)


def tokenizer_for_language(language: str) -> str:
    """``rouge`` for English (``en``, ``en-US``, ``en_GB``), ``unicode`` for every other language."""
    primary = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    return ROUGE if primary == "en" else UNICODE
