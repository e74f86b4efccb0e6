"""Read a question set (MT-bench / Vicuna jsonl), validating every line. Pure: no I/O.

Each line is ``{"question_id", "category", "turns": [str, ...], "reference": [str, ...] | null}``.
Vicuna's older files carry ``"text": str`` instead of ``turns``; both are accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidInput

MAX_ERRORS_REPORTED = 20
MAX_KEY_LENGTH = 100
MAX_CATEGORY_LENGTH = 50


@dataclass(frozen=True, slots=True)
class ParsedQuestion:
    key: str
    category: str
    turns: list[str]
    reference: list[str] | None


class QuestionFileError(InvalidInput):
    """Every problem found, each naming its line and field."""


def parse_question_file(data: bytes | str) -> list[ParsedQuestion]:
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise QuestionFileError(f"the question file is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise QuestionFileError(
            "the question file is empty: send jsonl with question_id, category and turns on each line"
        )
    errors: list[str] = []
    questions: list[ParsedQuestion] = []
    first_line_of: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        question = _parse_entry(item, where, errors)
        if question is None:
            continue
        if question.key in first_line_of:
            errors.append(
                f"{where}: field 'question_id' {question.key!r} repeats line {first_line_of[question.key]}"
            )
            continue
        first_line_of[question.key] = number
        questions.append(question)
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise QuestionFileError(errors[0] + more, detail=errors[:MAX_ERRORS_REPORTED])
    if not questions:
        raise QuestionFileError("the question file holds no questions")
    return questions


def _strings(
    value: Any, field: str, where: str, errors: list[str], *, allow_empty: bool = False
) -> list[str] | None:
    """A non-empty list of strings, each non-empty unless ``allow_empty`` (a lone string is a list of one)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        kind = "missing" if value is None else f"a {type(value).__name__}"
        errors.append(f"{where}: field '{field}' must be a non-empty list of strings, got {kind}")
        return None
    items: list[str] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, str) or (not entry.strip() and not allow_empty):
            problem = "empty" if isinstance(entry, str) else f"a {type(entry).__name__}"
            errors.append(f"{where}: field '{field}[{index}]' must be a non-empty string, got {problem}")
            return None
        items.append(entry.strip())
    return items


def _parse_entry(item: Any, where: str, errors: list[str]) -> ParsedQuestion | None:
    if not isinstance(item, dict):
        errors.append(f"{where}: expected a JSON object, got {type(item).__name__}")
        return None
    before = len(errors)

    raw_key = item.get("question_id")
    key = ""
    if isinstance(raw_key, bool) or not isinstance(raw_key, int | str) or not str(raw_key).strip():
        kind = "missing" if raw_key is None else repr(raw_key)
        errors.append(f"{where}: field 'question_id' must be a number or a non-empty string, got {kind}")
    else:
        key = str(raw_key).strip()
        if len(key) > MAX_KEY_LENGTH:
            errors.append(f"{where}: field 'question_id' is longer than {MAX_KEY_LENGTH} characters")

    category = item.get("category")
    if not isinstance(category, str) or not category.strip():
        kind = "missing" if category is None else repr(category)
        errors.append(f"{where}: field 'category' must be a non-empty string, got {kind}")
    elif len(category.strip()) > MAX_CATEGORY_LENGTH:
        errors.append(f"{where}: field 'category' is longer than {MAX_CATEGORY_LENGTH} characters")

    if "turns" in item:
        turns = _strings(item["turns"], "turns", where, errors)
    elif "text" in item:
        turns = _strings(item["text"], "text", where, errors)
    else:
        errors.append(
            f"{where}: field 'turns' is missing (a list of the user's messages; or Vicuna's 'text')"
        )
        turns = None

    reference: list[str] | None = None
    if item.get("reference") is not None:
        # One reference answer per turn; MT-bench leaves a turn's entry empty when it has none.
        reference = _strings(item["reference"], "reference", where, errors, allow_empty=True)
        if reference is not None and not any(reference):
            reference = None
        if reference is not None and turns is not None and len(reference) > len(turns):
            errors.append(
                f"{where}: field 'reference' has {len(reference)} entries for {len(turns)} turns "
                "(give at most one reference answer per turn)"
            )

    if len(errors) > before or turns is None or not isinstance(category, str):
        return None
    return ParsedQuestion(key=key, category=category.strip().lower(), turns=turns, reference=reference)
