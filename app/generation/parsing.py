"""Parse a teacher's reply into records. Pure: no I/O.

The prompt asks for records laid out as::

    N. Instruction: ...
    N. Input:
    <noinput>
    N. Output:
    ...
    ###

Replies drift from that: chat preambles ("Sure! Here are..."), markdown bold labels, numbering that
skips or restarts, missing ``###`` separators, empty inputs, and a last record cut off by ``max_tokens``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NO_INPUT_MARKERS = frozenset({"", "<noinput>", "<no input>", "noinput", "n/a", "none", "없음", "<입력 없음>"})

_LABEL = r"(?:\*\*|__)?\s*{name}\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?"
_NUMBER = r"(?:\*\*)?\s*(?:#\s*)?(\d+)\s*[.)]\s*"
_INSTRUCTION_RE = re.compile(
    r"^[ \t]*" + _NUMBER + _LABEL.format(name="instruction"), re.IGNORECASE | re.MULTILINE
)
_FIELD_RE = re.compile(
    r"^[ \t]*(?:(?:\*\*)?\s*\d+\s*[.)]\s*)?" + _LABEL.format(name="(input|output)"),
    re.IGNORECASE | re.MULTILINE,
)
_SEPARATOR_RE = re.compile(r"^\s*#{3,}\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    position: int
    instruction: str
    input: str
    output: str
    raw: str
    problem: str | None = None  # "unparsable" | "truncated" when the chunk could not be used
    detail: str | None = None


def _clean(text: str) -> str:
    text = _SEPARATOR_RE.sub("", text)
    text = text.strip()
    # A chat model sometimes ends with a closing remark after the last separator-less record.
    return text.strip("*_").strip() if text.startswith(("**", "__")) else text


def _clean_output(text: str) -> str:
    # Anything after a line of ### belongs to the next (or no) record.
    match = _SEPARATOR_RE.search(text)
    if match:
        text = text[: match.start()]
    return text.strip()


def parse_reply(text: str, *, truncated: bool = False, first_number: int | None = None) -> list[ParsedRecord]:
    """Split ``text`` into records.

    ``first_number``: the record number the prompt ended with ("N. Instruction:"). A completion
    continues right after that label, so the label is put back before parsing.
    ``truncated``: the reply stopped at ``max_tokens``; its last record is then incomplete.
    """
    starts = list(_INSTRUCTION_RE.finditer(text))
    if first_number is not None:
        # Text before the first label is either a chat preamble (ignored) or the body of the record the
        # prompt already opened (it then carries an Input:/Output: label of its own).
        head = text[: starts[0].start()] if starts else text
        if _FIELD_RE.search(head):
            text = f"{first_number}. Instruction:" + (text if text[:1].isspace() else " " + text)
            starts = list(_INSTRUCTION_RE.finditer(text))
    if not starts:
        stripped = text.strip()
        if not stripped:
            return []
        problem = "truncated" if truncated else "unparsable"
        return [ParsedRecord(0, stripped[:2000], "", "", stripped, problem, "no 'N. Instruction:' found")]
    records: list[ParsedRecord] = []
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        chunk = text[start.end() : end]
        raw = text[start.start() : end].strip()
        is_last = index == len(starts) - 1
        records.append(_parse_chunk(index, chunk, raw, cut_short=truncated and is_last))
    return records


def _parse_chunk(position: int, chunk: str, raw: str, *, cut_short: bool) -> ParsedRecord:
    fields: dict[str, str] = {}
    labels = list(_FIELD_RE.finditer(chunk))
    instruction_end = labels[0].start() if labels else len(chunk)
    instruction = _clean(chunk[:instruction_end])
    for index, label in enumerate(labels):
        name = label.group(1).lower()
        end = labels[index + 1].start() if index + 1 < len(labels) else len(chunk)
        if name not in fields:  # the first occurrence wins; a repeated label is part of the text
            fields[name] = chunk[label.end() : end]
    output = _clean_output(fields.get("output", ""))
    raw_input = _clean_output(fields.get("input", ""))
    record_input = "" if raw_input.strip().lower() in NO_INPUT_MARKERS else raw_input
    if cut_short:
        return ParsedRecord(
            position, instruction, record_input, output, raw, "truncated", "reply hit max_tokens"
        )
    if not instruction:
        return ParsedRecord(
            position, instruction, record_input, output, raw, "unparsable", "empty instruction"
        )
    if "output" not in fields:
        return ParsedRecord(
            position, instruction, record_input, output, raw, "unparsable", "no 'Output:' label"
        )
    return ParsedRecord(position, instruction, record_input, output, raw)
