"""The "new job" form, built from ``JobCreate`` itself so that it offers exactly the API's options."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types
from pydantic import ValidationError

from app.generation.languages import LANGUAGES
from app.generation.schemas import JobCreate

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Teacher", ("model", "base_url", "api_key_env", "api")),
    ("What to make", ("target", "language", "seed_set", "records_per_request", "examples_per_prompt",
                      "generated_examples", "name")),
    ("Sampling", ("temperature", "top_p", "max_tokens", "seed")),
    ("Filtering", ("rouge_threshold", "filters")),
    ("Speed and budget", ("concurrency", "requests_per_minute", "tokens_per_minute", "budget_usd",
                          "price_input_per_mtok", "price_output_per_mtok")),
    ("Prompt template", ("prompt_template",)),
)  # fmt: skip

LABELS = {
    "model": "Teacher model",
    "base_url": "Base URL",
    "api_key_env": "API key variable",
    "api": "API",
    "seed_set": "Seed set",
    "top_p": "top_p",
    "max_tokens": "Max tokens per reply",
    "rouge_threshold": "ROUGE-L threshold",
    "filters": "Filter overrides (JSON)",
    "requests_per_minute": "Requests per minute",
    "tokens_per_minute": "Tokens per minute",
    "budget_usd": "Budget (USD)",
    "price_input_per_mtok": "Price per million prompt tokens (USD)",
    "price_output_per_mtok": "Price per million completion tokens (USD)",
    "prompt_template": "Custom prompt template (Jinja2)",
    "name": "Name",
}
PLACEHOLDERS = {
    "model": "gpt-4o-mini",
    "base_url": "default: OPENAI_BASE_URL",
    "api_key_env": "default: OPENAI_API_KEY",
    "filters": '{"min_instruction_words": 3}',
    "name": "optional, unique",
    "requests_per_minute": "no limit",
    "tokens_per_minute": "no limit",
    "budget_usd": "no limit",
}
TEXTAREAS = frozenset({"filters", "prompt_template"})


@dataclass
class FormField:
    name: str
    label: str
    kind: Literal["number", "text", "select", "textarea"]
    required: bool
    value: str
    help: str = ""
    placeholder: str = ""
    min: str | None = None
    max: str | None = None
    step: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


def _base_type(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def _default_text(name: str) -> str:
    info = JobCreate.model_fields[name]
    if info.is_required():
        return ""
    default = info.get_default(call_default_factory=True)
    if default is None:
        return ""
    if isinstance(default, dict):
        return json.dumps(default) if default else ""
    return str(default)


def build_fields(
    seed_sets: list[tuple[str, str]],
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[tuple[str, list[FormField]]]:
    """The form's sections; ``values`` are what the user typed (kept after an error), ``seed_sets`` are
    (name, label) pairs."""
    values = values or {}
    errors = errors or {}
    sections = []
    for title, names in SECTIONS:
        fields = []
        for name in names:
            info = JobCreate.model_fields[name]
            base = _base_type(info.annotation)
            value = values.get(name, _default_text(name))
            form_field = FormField(
                name=name,
                label=LABELS.get(name, name.replace("_", " ").capitalize()),
                kind="text",
                required=info.is_required(),
                value=value,
                help=info.description or "",
                placeholder=PLACEHOLDERS.get(name, ""),
                error=errors.get(name),
            )
            if name in TEXTAREAS:
                form_field.kind = "textarea"
            elif name == "language":
                form_field.kind = "select"
                form_field.options = [(code, f"{lang.name} ({code})") for code, lang in LANGUAGES.items()]
            elif name == "seed_set":
                form_field.kind = "select"
                form_field.options = [("", "The built-in set of the language"), *seed_sets]
            elif typing.get_origin(base) is Literal:
                form_field.kind = "select"
                form_field.options = [(str(v), str(v)) for v in typing.get_args(base)]
            elif base in (int, float):
                form_field.kind = "number"
                form_field.step = "1" if base is int else "any"
                for constraint in info.metadata:
                    if isinstance(constraint, annotated_types.Ge | annotated_types.Gt):
                        low = constraint.ge if isinstance(constraint, annotated_types.Ge) else constraint.gt
                        form_field.min = str(low)
                    elif isinstance(constraint, annotated_types.Le | annotated_types.Lt):
                        high = constraint.le if isinstance(constraint, annotated_types.Le) else constraint.lt
                        form_field.max = str(high)
            fields.append(form_field)
        sections.append((title, fields))
    return sections


@dataclass
class ParsedJobForm:
    data: JobCreate | None
    values: dict[str, str]
    errors: dict[str, str]


def parse(form: Mapping[str, Any]) -> ParsedJobForm:
    """The form's values as a JobCreate, or per-field errors. Empty fields take the API's defaults."""
    values: dict[str, str] = {}
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in JobCreate.model_fields:
        raw = form.get(name)
        if not isinstance(raw, str):
            continue
        values[name] = raw
        text = raw if name == "prompt_template" else raw.strip()
        if not text.strip():
            continue
        if name == "filters":
            try:
                payload[name] = json.loads(text)
            except json.JSONDecodeError as exc:
                errors[name] = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            continue
        payload[name] = text
    try:
        data = JobCreate.model_validate(payload)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error.get("loc") or ("form",)
            errors.setdefault(str(loc[0]), str(error.get("msg", "invalid")))
        return ParsedJobForm(None, values, errors)
    return ParsedJobForm(None if errors else data, values, errors)


def all_field_names() -> set[str]:
    return {name for _, names in SECTIONS for name in names}
