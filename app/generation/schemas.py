from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas import Schema


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: int = Field(gt=0, le=10_000_000, description="Records to keep.")
    model: str = Field(min_length=1, max_length=200, description="The teacher model's name on its server.")
    base_url: str | None = Field(
        default=None, max_length=500, description="OpenAI-compatible server; default OPENAI_BASE_URL."
    )
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable that holds this teacher's key "
        "(default OPENAI_API_KEY). "
        "Keys themselves are never sent to or stored by Pasture.",
    )
    seed_set: str | None = Field(
        default=None, description="Seed set name; default: the built-in set of the language."
    )
    language: str = Field(default="en", description="en, ko, ja, zh, es, fr, de, pt, it, vi, ru.")
    api: Literal["chat", "completions"] = "chat"
    examples_per_prompt: int = Field(default=3, ge=1, le=20)
    records_per_request: int = Field(default=20, ge=1, le=100, description="New records asked for per call.")
    generated_examples: int = Field(
        default=0, ge=0, le=20, description="Kept records mixed into each prompt."
    )
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=3072, ge=16, le=200_000)
    rouge_threshold: float = Field(default=0.7, description="Reject when ROUGE-L F > threshold; in (0, 1].")
    concurrency: int = Field(default=4, ge=1, le=512)
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)
    budget_usd: float | None = Field(default=None, ge=0)
    price_input_per_mtok: float = Field(default=0.0, ge=0, description="USD per million prompt tokens.")
    price_output_per_mtok: float = Field(default=0.0, ge=0, description="USD per million completion tokens.")
    prompt_template: str | None = Field(
        default=None, max_length=100_000, description="Jinja2 template source."
    )
    filters: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the language's filter policy."
    )
    seed: int = Field(default=0, description="Random seed for sampling in-context examples.")
    name: str | None = Field(default=None, max_length=300, description="Optional unique name.")

    @field_validator("rouge_threshold")
    @classmethod
    def _threshold_in_range(cls, value: float) -> float:
        if not 0.0 < value <= 1.0:
            raise ValueError("rouge_threshold must be in (0, 1]")
        return value


class JobUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget_usd: float | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, ge=1, le=512)
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)
    target: int | None = Field(default=None, gt=0, le=10_000_000)


class JobRead(Schema):
    id: int
    name: str | None
    status: str
    status_reason: str | None
    target: int
    kept: int
    model: str
    base_url: str | None
    api_key_env: str | None
    seed_set: str
    language: str
    api: str
    examples_per_prompt: int
    records_per_request: int
    generated_examples: int
    temperature: float
    top_p: float
    max_tokens: int
    rouge_threshold: float
    concurrency: int
    requests_per_minute: int | None
    tokens_per_minute: int | None
    budget_usd: float | None
    price_input_per_mtok: float
    price_output_per_mtok: float
    custom_template: bool
    filters: dict[str, Any]
    seed: int
    candidates: int
    rejections: dict[str, int]
    requests_sent: int
    requests_failed: int
    requests_retried: int
    requests_abandoned: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    records_per_minute: float | None
    eta_seconds: float | None
    active_seconds: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobCreated(Schema):
    id: int
    status: str
