"""Record -> training row, in the shapes training tools read as they are. Pure."""

from __future__ import annotations

import hashlib
from typing import Any

FORMATS = ("alpaca", "sharegpt", "messages")
SPLIT_SALT = "pasture-split-v1"


def user_turn(instruction: str, input: str) -> str:
    """How a chat-shaped row joins instruction and input (the Alpaca shape keeps them apart)."""
    return f"{instruction}\n\n{input}" if input else instruction


def to_row(fmt: str, instruction: str, input: str, output: str) -> dict[str, Any]:
    if fmt == "alpaca":
        return {"instruction": instruction, "input": input, "output": output}
    if fmt == "sharegpt":
        return {
            "conversations": [
                {"from": "human", "value": user_turn(instruction, input)},
                {"from": "gpt", "value": output},
            ]
        }
    if fmt == "messages":
        return {
            "messages": [
                {"role": "user", "content": user_turn(instruction, input)},
                {"role": "assistant", "content": output},
            ]
        }
    raise ValueError(f"unknown format {fmt!r}")


def split_of(instruction: str, input: str, validation_ratio: float) -> str:
    """Validation membership by a hash of the record's text: stable when the set grows or is re-exported."""
    if validation_ratio <= 0:
        return "train"
    digest = hashlib.sha256(f"{SPLIT_SALT}\x00{instruction}\x00{input}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") / 2**64
    return "validation" if bucket < validation_ratio else "train"


ALPACA_PROMPT: dict[str, Any] = {
    "name": "alpaca",
    "with_input": (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    ),
    "without_input": (
        "Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\n{instruction}\n\n### Response:\n"
    ),
    "response": "{output}<eos>",
    "eos": True,
    "loss": "response tokens and EOS only; prompt tokens are labelled -100",
}
