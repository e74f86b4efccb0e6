"""Render the generation prompt from a template file or a job's own template. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from app.errors import InvalidInput
from app.generation.languages import Language

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = "records.j2"


@dataclass(frozen=True, slots=True)
class Example:
    instruction: str
    input: str
    output: str


@lru_cache
def _environment() -> SandboxedEnvironment:
    # Sandboxed: a job may supply its own template, which must not reach Python internals.
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def default_template_source() -> str:
    return (TEMPLATE_DIR / DEFAULT_TEMPLATE).read_text(encoding="utf-8")


@lru_cache(maxsize=64)
def _compile(source: str | None) -> jinja2.Template:
    environment = _environment()
    if source is None:
        return environment.get_template(DEFAULT_TEMPLATE)
    return environment.from_string(source)


def render_prompt(
    examples: list[Example], *, language: Language, total: int, template_source: str | None = None
) -> str:
    """The prompt ends with ``"{len(examples) + 1}. Instruction:"`` so the teacher continues the list."""
    try:
        template = _compile(template_source)
        return template.render(
            examples=examples,
            total=total,
            next_number=len(examples) + 1,
            language_name=language.name,
            language_code=language.code,
        ).rstrip()
    except jinja2.TemplateError as exc:
        raise InvalidInput(f"prompt_template: {exc.__class__.__name__}: {exc}") from None


def validate_template(source: str, language: Language) -> None:
    """Render a job's template once with sample examples, so a broken one fails at creation time."""
    sample = [Example("Name three primary colours.", "", "Red, yellow and blue.")]
    prompt = render_prompt(sample, language=language, total=5, template_source=source)
    if "Name three primary colours." not in prompt:
        raise InvalidInput("prompt_template must render the in-context examples (loop over 'examples')")
