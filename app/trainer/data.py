"""Training data: Alpaca JSONL -> token ids with loss on the response only -> padded batches.

Each example is `prompt + response + EOS`. The prompt (from the prompt template) is labelled -100 so it
adds nothing to the loss; the response and its EOS are the labels.

The prompt/response boundary: the full text is tokenized once and the prompt's own tokenization must be a
prefix of it; then the response ids are the rest. When a tokenizer merges across the boundary (the prefix
check fails), the response is tokenized on its own and appended to the prompt's ids instead, so the prompt
tokens always match what the model sees at inference. `boundary_retokenized` counts those examples.

Over-long examples (more than `max_length` tokens with EOS): with `overlong="truncate"` the prompt is kept
whole and the response cut to fit, with no EOS, because the response did not end there; with
`overlong="drop"` the example is skipped. An example whose prompt leaves no room for one response token is
always dropped. Both counts go into `data_manifest.json`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from app.trainer.errors import DataError
from app.trainer.template import PromptTemplate

IGNORE_INDEX = -100
_MAX_LISTED_PROBLEMS = 10


@dataclass(frozen=True)
class AlpacaRecord:
    instruction: str
    input: str
    output: str


@dataclass(frozen=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]


@dataclass
class EncodingStats:
    """What happened to the records of one file on their way to examples."""

    records: int = 0
    examples: int = 0
    truncated: int = 0
    dropped_too_long: int = 0
    boundary_retokenized: int = 0
    tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_alpaca_jsonl(path: Path) -> list[AlpacaRecord]:
    """Every record of an Alpaca JSONL file; all malformed lines are reported together."""
    records: list[AlpacaRecord] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record, problem = _parse_record(line)
            if problem:
                problems.append(f"line {number}: {problem}")
            elif record is not None:
                records.append(record)
    if problems:
        listed = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
        more = (
            f" (and {len(problems) - _MAX_LISTED_PROBLEMS} more)"
            if len(problems) > _MAX_LISTED_PROBLEMS
            else ""
        )
        raise DataError(f"{path} has {len(problems)} malformed records: {listed}{more}")
    if not records:
        raise DataError(f"{path} holds no records")
    return records


def _parse_record(line: str) -> tuple[AlpacaRecord | None, str | None]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        return None, f"not JSON ({error.msg})"
    if not isinstance(row, dict):
        return None, "not a JSON object"
    instruction, input_text, output = row.get("instruction"), row.get("input", ""), row.get("output")
    if not isinstance(instruction, str) or not instruction.strip():
        return None, "instruction must be a non-empty string"
    if input_text is None:
        input_text = ""
    if not isinstance(input_text, str):
        return None, "input must be a string"
    if not isinstance(output, str) or not output.strip():
        return None, "output must be a non-empty string"
    return AlpacaRecord(instruction=instruction, input=input_text, output=output), None


class ExampleEncoder:
    """Turns records into `EncodedExample`s for one tokenizer, template and length policy."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, template: PromptTemplate, max_length: int, overlong: str
    ) -> None:
        if tokenizer.eos_token_id is None:
            raise DataError("the tokenizer has no EOS token; Pasture ends every response with one")
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length
        self.overlong = overlong
        self.eos_token_id: int = int(tokenizer.eos_token_id)
        self.leading_special_ids = leading_special_ids(tokenizer)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, record: AlpacaRecord, stats: EncodingStats) -> EncodedExample | None:
        """One example, or None when it is dropped; `stats` records what happened."""
        stats.records += 1
        prompt = self.template.render(record.instruction, record.input)
        prompt_ids = self.leading_special_ids + self._ids(prompt)
        full_ids = self.leading_special_ids + self._ids(prompt + record.output)
        if full_ids[: len(prompt_ids)] == prompt_ids:
            response_ids = full_ids[len(prompt_ids) :]
        else:
            response_ids = self._ids(record.output)
            stats.boundary_retokenized += 1

        room = self.max_length - len(prompt_ids)
        if len(response_ids) + 1 <= room:
            response_ids = [*response_ids, self.eos_token_id]
        elif self.overlong == "truncate" and room >= 1:
            response_ids = response_ids[:room]
            stats.truncated += 1
        else:
            stats.dropped_too_long += 1
            return None

        stats.examples += 1
        stats.tokens += len(prompt_ids) + len(response_ids)
        return EncodedExample(
            input_ids=prompt_ids + response_ids,
            labels=[IGNORE_INDEX] * len(prompt_ids) + response_ids,
        )

    def encode_all(self, records: Sequence[AlpacaRecord]) -> tuple[list[EncodedExample], EncodingStats]:
        stats = EncodingStats()
        examples = [example for record in records if (example := self.encode(record, stats)) is not None]
        return examples, stats


def leading_special_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The special tokens the tokenizer puts before text (LLaMA's BOS), found by probing it.

    Trailing specials some tokenizers append (an automatic EOS) are left out: the EOS is added by id after
    the response, and a prompt must not end with one.
    """
    bare = list(tokenizer("a", add_special_tokens=False)["input_ids"])
    full = list(tokenizer("a", add_special_tokens=True)["input_ids"])
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start]
    return []


class SupervisedDataset(torch.utils.data.Dataset[dict[str, list[int]]]):
    """Encoded examples as the dicts `Trainer` expects; `input_ids` lengths drive length grouping."""

    def __init__(self, examples: Sequence[EncodedExample]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        example = self.examples[index]
        return {"input_ids": example.input_ids, "labels": example.labels}


@dataclass(frozen=True)
class CompletionCollator:
    """Right-pads a batch: `pad_token_id` in inputs, -100 in labels, 0 in the attention mask."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        longest = max(len(feature["input_ids"]) for feature in features)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(features), longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), longest), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(features), longest), dtype=torch.long)
        for row, feature in enumerate(features):
            length = len(feature["input_ids"])
            input_ids[row, :length] = torch.tensor(feature["input_ids"], dtype=torch.long)
            labels[row, :length] = torch.tensor(feature["labels"], dtype=torch.long)
            attention_mask[row, :length] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
