from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Schema


class TrainingRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    export_id: int
    base_model: str = Field(min_length=1, max_length=500, description="A local folder or a hub id.")
    method: Literal["lora", "full"] = "lora"
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of Alpaca's recipe: epochs 3, batch_size 128, max_length 512, cosine, "
        "warmup_ratio 0.03, learning_rate 2e-5 (full) / 3e-4 (LoRA), ...",
    )
    prompt_template: str = Field(default="alpaca", max_length=100)
    merge: bool = Field(default=False, description="Also save merged weights (LoRA).")


class ClaimRequest(BaseModel):
    worker_id: str = Field(min_length=1, max_length=200)
    lease_seconds: int = Field(default=120, ge=10, le=3600)


class HeartbeatRequest(BaseModel):
    worker_id: str = Field(min_length=1, max_length=200)
    progress: dict[str, Any] = Field(default_factory=dict)
    lease_seconds: int = Field(default=120, ge=10, le=3600)


class CompleteRequest(BaseModel):
    worker_id: str = Field(min_length=1, max_length=200)
    status: Literal["succeeded", "failed"]
    reason: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    artifacts: dict[str, Any] = Field(default_factory=dict)


class ClaimedRun(BaseModel):
    id: int
    export_id: int
    base_model: str
    method: str
    hyperparameters: dict[str, Any]
    prompt_template: str | None
    merge: bool
    attempt: int


class ClaimResponse(BaseModel):
    run: ClaimedRun


class HeartbeatResponse(BaseModel):
    status: str


class ProgressPoint(Schema):
    step: int | None
    loss: float | None
    eval_loss: float | None
    learning_rate: float | None
    tokens_per_second: float | None
    at: datetime


class TrainingRunRead(Schema):
    id: int
    export_id: int
    base_model: str
    method: str
    hyperparameters: dict[str, Any]
    effective_hyperparameters: dict[str, Any]
    prompt_template: str
    merge: bool
    status: str
    status_reason: str | None
    worker_id: str | None
    attempt: int
    progress: dict[str, Any]
    metrics: dict[str, Any]
    artifacts: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TrainingRunDetail(TrainingRunRead):
    curve: list[ProgressPoint]
