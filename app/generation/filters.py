"""Quality filters: Alpaca's rules as the English default, with language-aware variants."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from app.errors import InvalidInput
from app.generation.languages import Language, language_share
from app.generation.parsing import ParsedRecord


class Reason:
    """Why a candidate was not kept (stored on the record and counted on the job)."""

    UNPARSABLE = "unparsable"
    TRUNCATED = "truncated"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    BLACKLISTED_WORD = "blacklisted_word"
    PROGRAM_REQUEST = "program_request"
    LEADING_PUNCTUATION = "leading_punctuation"
    REFUSAL = "refusal"
    EMPTY_OUTPUT = "empty_output"
    WRONG_LANGUAGE = "wrong_language"
    NEAR_DUPLICATE = "near_duplicate"
    TARGET_REACHED = "target_reached"


ENGLISH_BLACKLIST = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
    "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip
KOREAN_BLACKLIST = (
    "이미지", "그림", "사진", "그래프", "파일", "지도",
    "동영상", "영상", "오디오", "음악", "다이어그램", "순서도",
    "그려",
)  # fmt: skip
REFUSAL_PATTERNS = (
    r"\bas an ai\b",
    r"\bas a (?:large )?language model\b",
    r"\bi(?:'m| am) (?:sorry|unable)\b.{0,40}\b(?:can(?:not|'t)|unable|not able)\b",
    r"\bi can(?:not|'t) (?:help|assist|comply|fulfil|fulfill)\b",
    r"AI\s*(?:언어\s*)?모델(?:로서|이기 때문에|으로서)",
    r"죄송하지만.{0,30}(?:할 수 없|드릴 수 없)",
)


@dataclass(frozen=True, slots=True)
class FilterPolicy:
    """What a kept record must satisfy. Every field can be overridden per job through ``filters``."""

    min_instruction_words: int = 4
    max_instruction_words: int = 150
    blacklist: tuple[str, ...] = ENGLISH_BLACKLIST
    blocked_prefixes: tuple[str, ...] = ("write a program",)
    reject_leading_punctuation: bool = True
    reject_refusals: bool = True
    refusal_patterns: tuple[str, ...] = REFUSAL_PATTERNS
    reject_empty_output: bool = True
    check_language: bool = True
    min_language_share: float = 0.5
    _refusal: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One alternation instead of a search per pattern: filters run on every candidate.
        joined = "|".join(f"(?:{p})" for p in self.refusal_patterns)
        object.__setattr__(
            self, "_refusal", re.compile(joined, re.IGNORECASE | re.DOTALL) if joined else None
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_refusal")
        return data


def default_policy(language: str) -> FilterPolicy:
    if language == "en":
        return FilterPolicy()
    if language == "ko":
        # Korean words (eojeol) carry particles, so a short Korean instruction has fewer of them.
        return FilterPolicy(
            min_instruction_words=2, blacklist=KOREAN_BLACKLIST, blocked_prefixes=("프로그램을 작성",)
        )
    if language in {"ja", "zh"}:
        # No spaces between words: count characters as words.
        return FilterPolicy(min_instruction_words=1, blacklist=(), blocked_prefixes=())
    return FilterPolicy(blacklist=(), blocked_prefixes=())


OVERRIDABLE = {f.name for f in fields(FilterPolicy) if not f.name.startswith("_")}


def build_policy(language: str, overrides: dict[str, Any] | None) -> FilterPolicy:
    policy = default_policy(language)
    if not overrides:
        return policy
    unknown = sorted(set(overrides) - OVERRIDABLE)
    if unknown:
        raise InvalidInput(
            f"filters: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(OVERRIDABLE))}"
        )
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    try:
        return replace(policy, **values)
    except (TypeError, re.error) as exc:
        raise InvalidInput(f"filters: {exc}") from None


_WORD_RE = re.compile(r"\w+", re.UNICODE)


def _count_words(text: str, language: str) -> int:
    if language in {"ja", "zh"}:
        return sum(1 for c in text if c.isalnum())
    return len(text.split())


def _contains_word(text: str, word: str, language: str) -> bool:
    if language == "en" or word.isascii():
        return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None
    return word in text  # particles attach to Korean nouns, so whole-word matching would miss them


def check_record(record: ParsedRecord, policy: FilterPolicy, language: Language) -> tuple[str, str] | None:
    """Return (reason, detail) when the record must be rejected, else None."""
    instruction, output = record.instruction, record.output
    words = _count_words(instruction, language.code)
    if words < policy.min_instruction_words:
        return Reason.TOO_SHORT, f"instruction has {words} words, fewer than {policy.min_instruction_words}"
    if words > policy.max_instruction_words:
        return Reason.TOO_LONG, f"instruction has {words} words, more than {policy.max_instruction_words}"
    for word in policy.blacklist:
        if _contains_word(instruction, word, language.code):
            return Reason.BLACKLISTED_WORD, f"instruction mentions '{word}', which a text model cannot act on"
    lowered = instruction.lower()
    for prefix in policy.blocked_prefixes:
        if lowered.startswith(prefix.lower()):
            return Reason.PROGRAM_REQUEST, f"instruction starts with '{prefix}'"
    if policy.reject_leading_punctuation and instruction and not instruction[0].isalnum():
        return Reason.LEADING_PUNCTUATION, f"instruction starts with {instruction[0]!r}"
    if policy.reject_empty_output and (not output.strip() or output.strip().lower() in {"<nooutput>", "n/a"}):
        return Reason.EMPTY_OUTPUT, "the output is empty"
    if policy.reject_refusals and policy._refusal is not None:
        match = policy._refusal.search(output) or policy._refusal.search(instruction)
        if match:
            return Reason.REFUSAL, f"reads as a refusal: '{match.group(0)}'"
    if policy.check_language:
        share = language_share(instruction, language)
        if share is not None and share < policy.min_language_share:
            return Reason.WRONG_LANGUAGE, f"only {share:.0%} of the instruction's letters are {language.name}"
    return None
