"""The models Pasture evaluates and judges with: where each is served and how to ask it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.evaluation.schemas import ModelCreate, ModelLink, ModelRead, ModelUpdate
from app.models import Evaluation, ModelEndpoint

MODEL_DEFAULTS: dict[str, Any] = {
    "description": "",
    "temperature": 0.7,
    "max_tokens": 1024,
    "price_input_per_mtok": 0.0,
    "price_output_per_mtok": 0.0,
}


class ModelNotFound(NotFound):
    pass


def create_model(session: Session, data: ModelCreate) -> ModelEndpoint:
    if session.scalar(select(ModelEndpoint.id).where(ModelEndpoint.name == data.name)) is not None:
        raise Conflict(f"name: a model named '{data.name}' already exists")
    values = {key: value for key, value in data.model_dump().items() if value is not None}
    values = MODEL_DEFAULTS | values
    values.setdefault("model", data.name)
    model = ModelEndpoint(**values)
    session.add(model)
    session.flush()
    return model


def list_models(session: Session) -> list[ModelEndpoint]:
    return list(session.scalars(select(ModelEndpoint).order_by(ModelEndpoint.name)))


def get_model(session: Session, name: str, *, field: str = "model") -> ModelEndpoint:
    model = session.scalar(select(ModelEndpoint).where(ModelEndpoint.name == name))
    if model is None:
        known = ", ".join(session.scalars(select(ModelEndpoint.name).order_by(ModelEndpoint.name)))
        raise ModelNotFound(
            f"{field}: unknown model '{name}' (known: {known or 'none'}); "
            "register it with POST /api/v1/models"
        )
    return model


def update_model(session: Session, name: str, data: ModelUpdate) -> ModelEndpoint:
    model = get_model(session, name)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is None and key in MODEL_DEFAULTS | {"model": None}:
            raise InvalidInput(f"{key}: cannot be null")
        setattr(model, key, value)
    session.flush()
    return model


def delete_model(session: Session, name: str) -> None:
    model = get_model(session, name)
    used = session.scalar(
        select(Evaluation.id)
        .where(
            (Evaluation.candidate_id == model.id)
            | (Evaluation.baseline_id == model.id)
            | (Evaluation.judge_id == model.id)
        )
        .limit(1)
    )
    if used is not None:
        raise Conflict(f"model '{name}' is used by evaluation {used}; it cannot be deleted")
    session.delete(model)
    session.flush()


def model_link(model: ModelEndpoint) -> ModelLink:
    return ModelLink(
        name=model.name,
        model=model.model,
        answered_by=model.answered_by,
        base_url=model.base_url,
        training_run_id=model.training_run_id,
        export_id=model.export_id,
    )


def model_read(model: ModelEndpoint) -> ModelRead:
    return ModelRead.model_validate(model)
