from __future__ import annotations

from datetime import datetime
from typing import Any

from app.schemas import Schema


class SeedTaskRead(Schema):
    id: int
    position: int
    name: str
    instruction: str
    input: str
    output: str
    is_classification: bool
    instances: list[Any]


class SeedSetRead(Schema):
    id: int
    name: str
    language: str
    description: str
    source: str
    sha256: str
    task_count: int
    created_at: datetime


class SeedSetDetail(SeedSetRead):
    tasks: list[SeedTaskRead]
