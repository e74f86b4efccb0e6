"""Fixtures for the dedupe tests: the shared instruction data sets, when this checkout has them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import shared_data as shared


def shared_data_dir() -> Path | None:
    """PASTURE_SHARED_DATA, else the ``shared/data`` folder beside the repository; None if absent."""
    folder = shared.shared_data_dir()
    return folder.resolve() if folder.is_dir() else None


def read_instructions(name: str) -> list[str]:
    folder = shared_data_dir()
    if folder is None or not (folder / name).is_file():
        pytest.skip(f"{name} not found: set PASTURE_SHARED_DATA to the folder holding the shared data sets")
    with (folder / name).open(encoding="utf-8") as lines:
        return [json.loads(line)["instruction"] for line in lines if line.strip()]


@pytest.fixture(scope="session")
def alpaca_instructions() -> list[str]:
    return read_instructions("alpaca_like.jsonl")


@pytest.fixture(scope="session")
def korean_instructions() -> list[str]:
    return read_instructions("ko_alpaca_like.jsonl")
