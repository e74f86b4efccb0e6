"""Prompt templates: how an Alpaca record becomes the text the model is trained on.

A template renders the prompt (everything up to and including the response header); the training data
appends the response and the tokenizer's EOS token. Rendering at inference time with the same template
gives the model exactly the prompt it saw in training.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.trainer.errors import ConfigError


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt layout with two variants: one for records with an `input`, one for records without.

    Both variants are `str.format` strings; `with_input` takes `{instruction}` and `{input}`,
    `without_input` takes `{instruction}`. Literal braces in a template are written `{{` and `}}`.
    """

    name: str
    with_input: str
    without_input: str

    def render(self, instruction: str, input: str = "") -> str:
        """The prompt for one record. An `input` that is empty or only whitespace uses `without_input`."""
        if input.strip():
            return self.with_input.format(instruction=instruction, input=input)
        return self.without_input.format(instruction=instruction)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptTemplate:
        problems = [
            f"prompt template field {key!r} must be a string"
            for key in ("name", "with_input", "without_input")
            if not isinstance(data.get(key), str)
        ]
        if problems:
            raise ConfigError(problems)
        return cls(name=data["name"], with_input=data["with_input"], without_input=data["without_input"])


_ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task{paired}. "
    "Write a response that appropriately completes the request.\n\n"
)

ALPACA = PromptTemplate(
    name="alpaca",
    with_input=(
        _ALPACA_PREAMBLE.format(paired=", paired with an input that provides further context")
        + "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    ),
    without_input=(_ALPACA_PREAMBLE.format(paired="") + "### Instruction:\n{instruction}\n\n### Response:\n"),
)

TEMPLATES: dict[str, PromptTemplate] = {ALPACA.name: ALPACA}


def is_template_reference(reference: str) -> bool:
    """Whether `reference` names a built-in template or points at a template JSON file."""
    return reference in TEMPLATES or Path(reference).is_file()


def load_template(reference: str) -> PromptTemplate:
    """A built-in template by name (`alpaca`) or one saved as JSON (e.g. a run's `prompt_template.json`)."""
    if reference in TEMPLATES:
        return TEMPLATES[reference]
    path = Path(reference)
    if not path.is_file():
        known = ", ".join(sorted(TEMPLATES))
        raise ConfigError(
            [f"prompt_template {reference!r} is neither a built-in template ({known}) nor a file"]
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError([f"prompt template file {path} is not readable JSON: {error}"]) from error
    if not isinstance(data, dict):
        raise ConfigError([f"prompt template file {path} must hold a JSON object"])
    return PromptTemplate.from_dict(data)
