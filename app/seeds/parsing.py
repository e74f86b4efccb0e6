"""Read a seed set (self-instruct jsonl, Alpaca jsonl, or a JSON list of either), validating every line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.errors import InvalidInput

MAX_ERRORS_REPORTED = 20


@dataclass(frozen=True, slots=True)
class ParsedSeedTask:
    instruction: str
    input: str
    output: str
    name: str = ""
    is_classification: bool = False
    instances: list[dict[str, str]] = field(default_factory=list)


class SeedFileError(InvalidInput):
    """Every problem found, each naming its line and field."""


def parse_seed_file(data: bytes | str) -> list[ParsedSeedTask]:
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    stripped = text.strip()
    if not stripped:
        raise SeedFileError("the seed file is empty: send self-instruct jsonl or an Alpaca JSON list")
    entries: list[tuple[int, Any]] = []
    errors: list[str] = []
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise SeedFileError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
        entries = [(index + 1, item) for index, item in enumerate(items)]
        where = "item"
    else:
        where = "line"
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                entries.append((number, exc))
    tasks: list[ParsedSeedTask] = []
    for number, item in entries:
        if isinstance(item, json.JSONDecodeError):
            errors.append(f"line {number}: not valid JSON ({item.msg} at column {item.colno})")
            continue
        task = _parse_entry(item, f"{where} {number}", errors)
        if task is not None:
            tasks.append(task)
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise SeedFileError(errors[0] + more, detail=errors[:MAX_ERRORS_REPORTED])
    if not tasks:
        raise SeedFileError("the seed file holds no tasks")
    return tasks


def _text_field(item: dict[str, Any], key: str, where: str, errors: list[str], *, required: bool) -> str:
    value = item.get(key, "" if not required else None)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        kind = "missing" if value is None else f"a {type(value).__name__}"
        errors.append(f"{where}: field '{key}' must be a string, got {kind}")
        return ""
    if required and not value.strip():
        errors.append(f"{where}: field '{key}' must not be empty")
    return value.strip()


def _parse_entry(item: Any, where: str, errors: list[str]) -> ParsedSeedTask | None:
    if not isinstance(item, dict):
        errors.append(f"{where}: expected a JSON object, got {type(item).__name__}")
        return None
    before = len(errors)
    instruction = _text_field(item, "instruction", where, errors, required=True)
    name = item.get("name", item.get("id", ""))
    is_classification = item.get("is_classification", False)
    if not isinstance(is_classification, bool):
        errors.append(f"{where}: field 'is_classification' must be true or false")
    instances: list[dict[str, str]] = []
    if "instances" in item:
        raw_instances = item["instances"]
        if not isinstance(raw_instances, list) or not raw_instances:
            errors.append(f"{where}: field 'instances' must be a non-empty list of {{input, output}} objects")
        else:
            for index, instance in enumerate(raw_instances):
                if not isinstance(instance, dict):
                    errors.append(f"{where}: field 'instances[{index}]' must be an object")
                    continue
                inp = _text_field(instance, "input", f"{where}", errors, required=False)
                out = _text_field(instance, "output", f"{where}", errors, required=False)
                if not out:
                    errors.append(f"{where}: field 'instances[{index}].output' must not be empty")
                instances.append({"input": inp, "output": out})
    else:
        inp = _text_field(item, "input", where, errors, required=False)
        out = _text_field(item, "output", where, errors, required=True)
        instances.append({"input": inp, "output": out})
    if len(errors) > before:
        return None
    first = instances[0]
    return ParsedSeedTask(
        instruction=instruction,
        input=first["input"],
        output=first["output"],
        name=str(name),
        is_classification=bool(is_classification),
        instances=instances,
    )
