"""Languages a job can ask for, and a script-based check that a text is written in one of them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str
    scripts: frozenset[str]  # letters of these scripts count as "in the language"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", frozenset({"latin"})),
        Language("ko", "Korean", frozenset({"hangul"})),
        Language("ja", "Japanese", frozenset({"kana", "han"})),
        Language("zh", "Chinese", frozenset({"han"})),
        Language("es", "Spanish", frozenset({"latin"})),
        Language("fr", "French", frozenset({"latin"})),
        Language("de", "German", frozenset({"latin"})),
        Language("pt", "Portuguese", frozenset({"latin"})),
        Language("it", "Italian", frozenset({"latin"})),
        Language("vi", "Vietnamese", frozenset({"latin"})),
        Language("ru", "Russian", frozenset({"cyrillic"})),
    )
}


def get_language(code: str) -> Language | None:
    return LANGUAGES.get(code.lower())


@lru_cache(maxsize=65536)
def script_of(char: str) -> str:
    code = ord(char)
    if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "han"
    if code < 0x80:
        return "latin" if char.isalpha() else "other"
    name = unicodedata.name(char, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "THAI", "DEVANAGARI"):
        if name.startswith(script):
            return script.lower()
    return "other"


def language_share(text: str, language: Language) -> float | None:
    """Share of the text's letters that belong to the language's scripts (None when it has no letters)."""
    letters = 0
    matching = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        if script_of(char) in language.scripts:
            matching += 1
    return None if letters == 0 else matching / letters
