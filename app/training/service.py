"""Training runs: queued by users, claimed by workers with a lease, reported back by heartbeats."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.models import Export, TrainingProgress, TrainingRun, TrainingRunStatus
from app.training.schemas import (
    ClaimedRun,
    CompleteRequest,
    TrainingRunCreate,
    TrainingRunDetail,
    TrainingRunRead,
)

# Alpaca's recipe. The worker's TrainConfig has the same defaults; these are shown to users up front.
ALPACA_RECIPE: dict[str, Any] = {
    "epochs": 3.0,
    "batch_size": 128,
    "max_length": 512,
    "lr_scheduler": "cosine",
    "warmup_ratio": 0.03,
    "weight_decay": 0.0,
}
ALPACA_LEARNING_RATES = {"full": 2e-5, "lora": 3e-4}
LOCATION_FIELDS = {
    "data_path",
    "validation_path",
    "export_manifest_path",
    "output_dir",
    "resume",
    "base_model",
    "method",
}
TEMPLATES = ("alpaca",)
MAX_CURVE_POINTS = 2000


class TrainingRunNotFound(NotFound):
    pass


def _trainer_fields() -> set[str] | None:
    """The worker's hyperparameter names, when its (torch-free) config module is importable."""
    try:
        from dataclasses import fields

        from app.trainer.config import TrainConfig
    except ImportError:  # pragma: no cover - a service-only install without app/trainer
        return None
    return {f.name for f in fields(TrainConfig)}


def effective_hyperparameters(run: TrainingRun) -> dict[str, Any]:
    values = dict(ALPACA_RECIPE)
    values["learning_rate"] = ALPACA_LEARNING_RATES[run.method]
    values.update(run.hyperparameters or {})
    return values


def create_run(session: Session, data: TrainingRunCreate) -> TrainingRun:
    export = session.get(Export, data.export_id)
    if export is None:
        raise NotFound(f"export_id: export {data.export_id} does not exist")
    if export.format != "alpaca":
        raise InvalidInput(
            f"export_id: export {export.id} is in the '{export.format}' format; training runs read the "
            "'alpaca' format: create an alpaca export of the same records"
        )
    problems = []
    known = _trainer_fields()
    for key in sorted(data.hyperparameters):
        if key in LOCATION_FIELDS:
            problems.append(
                f"hyperparameters.{key}: set by the worker or the run itself, not a hyperparameter"
            )
        elif known is not None and key not in known:
            problems.append(f"hyperparameters.{key}: unknown hyperparameter")
    if data.prompt_template not in TEMPLATES:
        problems.append(
            f"prompt_template: unknown template '{data.prompt_template}' (known: {', '.join(TEMPLATES)})"
        )
    if problems:
        raise InvalidInput("; ".join(problems), detail=problems)
    run = TrainingRun(**data.model_dump())
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: int) -> TrainingRun:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise TrainingRunNotFound(f"training run {run_id} does not exist")
    return run


def list_runs(session: Session, *, limit: int, before: int | None) -> tuple[list[TrainingRun], int]:
    query = select(TrainingRun).order_by(TrainingRun.id.desc())
    if before is not None:
        query = query.where(TrainingRun.id < before)
    total = session.scalar(select(func.count(TrainingRun.id))) or 0
    return list(session.scalars(query.limit(limit))), total


def run_read(run: TrainingRun) -> TrainingRunRead:
    data = {name: getattr(run, name) for name in TrainingRunRead.model_fields if hasattr(run, name)}
    data["effective_hyperparameters"] = effective_hyperparameters(run)
    return TrainingRunRead.model_validate(data)


def run_detail(session: Session, run: TrainingRun) -> TrainingRunDetail:
    points = session.scalars(
        select(TrainingProgress).where(TrainingProgress.run_id == run.id).order_by(TrainingProgress.id)
    ).all()
    if len(points) > MAX_CURVE_POINTS:  # thin long runs evenly, keeping the last point
        stride = len(points) / MAX_CURVE_POINTS
        points = [points[int(i * stride)] for i in range(MAX_CURVE_POINTS - 1)] + [points[-1]]
    data = run_read(run).model_dump()
    data["curve"] = [
        {
            "step": p.step,
            "loss": p.loss,
            "eval_loss": p.eval_loss,
            "learning_rate": p.learning_rate,
            "tokens_per_second": p.tokens_per_second,
            "at": p.at,
        }
        for p in points
    ]
    return TrainingRunDetail.model_validate(data)


def claim_run(session: Session, worker_id: str, lease_seconds: int) -> ClaimedRun | None:
    """Compare-and-set on the run row, so two workers never take the same run."""
    now = utcnow()
    candidates = session.execute(
        select(TrainingRun.id, TrainingRun.worker_id)
        .where(
            or_(
                TrainingRun.status == TrainingRunStatus.QUEUED,
                (TrainingRun.status == TrainingRunStatus.RUNNING) & (TrainingRun.lease_expires_at < now),
            )
        )
        .order_by(TrainingRun.id)
        .limit(5)
    ).all()
    for run_id, previous in candidates:
        owner = TrainingRun.worker_id.is_(None) if previous is None else TrainingRun.worker_id == previous
        result = session.execute(
            update(TrainingRun)
            .where(
                TrainingRun.id == run_id,
                owner,
                or_(
                    TrainingRun.status == TrainingRunStatus.QUEUED,
                    (TrainingRun.status == TrainingRunStatus.RUNNING) & (TrainingRun.lease_expires_at < now),
                ),
            )
            .values(
                status=TrainingRunStatus.RUNNING,
                worker_id=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempt=TrainingRun.attempt + 1,
                started_at=func.coalesce(TrainingRun.started_at, now),
                status_reason=None,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            run = session.get(TrainingRun, run_id, populate_existing=True)
            assert run is not None
            return ClaimedRun(
                id=run.id,
                export_id=run.export_id,
                base_model=run.base_model,
                method=run.method,
                hyperparameters=dict(run.hyperparameters or {}),
                prompt_template=run.prompt_template,
                merge=run.merge,
                attempt=run.attempt,
            )
    return None


def _owned(session: Session, run_id: int, worker_id: str) -> TrainingRun:
    run = get_run(session, run_id)
    if run.worker_id != worker_id or run.status not in (
        TrainingRunStatus.RUNNING,
        TrainingRunStatus.CANCELLED,
    ):
        raise Conflict(f"training run {run_id} is not held by worker '{worker_id}' (its lease was lost)")
    return run


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def heartbeat(
    session: Session, run_id: int, worker_id: str, progress: dict[str, Any], lease_seconds: int
) -> str:
    run = _owned(session, run_id, worker_id)
    if run.status == TrainingRunStatus.CANCELLED:
        return run.status
    run.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
    if progress:
        run.progress = progress
        step = progress.get("step")
        session.add(
            TrainingProgress(
                run_id=run.id,
                step=int(step) if isinstance(step, int | float) else None,
                loss=_number(progress.get("loss")),
                eval_loss=_number(progress.get("eval_loss")),
                learning_rate=_number(progress.get("learning_rate")),
                tokens_per_second=_number(progress.get("tokens_per_second")),
                data=progress,
            )
        )
    session.flush()
    return run.status


def complete(session: Session, run_id: int, data: CompleteRequest) -> TrainingRun:
    run = _owned(session, run_id, data.worker_id)
    if run.status == TrainingRunStatus.RUNNING:
        run.status = data.status
        run.status_reason = data.reason
    run.metrics = data.metrics
    run.artifacts = data.artifacts
    run.finished_at = utcnow()
    run.lease_expires_at = None
    session.flush()
    return run


def cancel(session: Session, run_id: int) -> TrainingRun:
    run = get_run(session, run_id)
    if run.status in (TrainingRunStatus.SUCCEEDED, TrainingRunStatus.FAILED, TrainingRunStatus.CANCELLED):
        raise Conflict(
            f"training run {run_id} is {run.status}; only a queued or running run can be cancelled"
        )
    run.status = TrainingRunStatus.CANCELLED
    run.status_reason = "cancelled by request"
    run.finished_at = utcnow()
    session.flush()
    return run
