"""Every query the evaluation runner makes. Functions take a Session; the caller owns the transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.generation.repository import _runner_is_dead_here
from app.models import (
    Evaluation,
    EvaluationAnswer,
    EvaluationStatus,
    Judgment,
    Question,
)
from app.models.evaluation import DONE_JUDGMENT_STATUSES

RUNNABLE = (EvaluationStatus.QUEUED.value, EvaluationStatus.RUNNING.value)
FINISHED = (EvaluationStatus.SUCCEEDED, EvaluationStatus.FAILED, EvaluationStatus.CANCELLED)

JudgmentItem = tuple[int, str, str]  # (question id, kind, target)


def claimable(
    session: Session, *, limit: int, evaluation_id: int | None = None
) -> list[tuple[int, str | None]]:
    now = utcnow()
    query = select(Evaluation.id, Evaluation.runner_id, Evaluation.lease_expires_at).where(
        Evaluation.status.in_(RUNNABLE)
    )
    if evaluation_id is not None:
        query = query.where(Evaluation.id == evaluation_id)
    rows = session.execute(query.order_by(Evaluation.id).limit(limit * 4 + 8)).all()
    result = []
    for eid, runner_id, lease in rows:
        if runner_id is None or lease is None or lease < now or _runner_is_dead_here(runner_id):
            result.append((eid, runner_id))
    return result[:limit]


def try_claim(
    session: Session, evaluation_id: int, previous_runner: str | None, runner_id: str, lease: float
) -> bool:
    """Atomically take an evaluation whose owner is still ``previous_runner`` (compare-and-set)."""
    now = utcnow()
    conditions = [Evaluation.id == evaluation_id, Evaluation.status.in_(RUNNABLE)]
    if previous_runner is None:
        conditions.append(Evaluation.runner_id.is_(None))
    else:
        conditions.append(Evaluation.runner_id == previous_runner)
        if not _runner_is_dead_here(previous_runner):
            conditions.append(or_(Evaluation.lease_expires_at.is_(None), Evaluation.lease_expires_at < now))
    result = session.execute(
        update(Evaluation)
        .where(*conditions)
        .values(runner_id=runner_id, lease_expires_at=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def start(session: Session, evaluation_id: int) -> Evaluation:
    """Mark a claimed evaluation running, unless it was cancelled since it was claimed."""
    evaluation = session.get(Evaluation, evaluation_id, populate_existing=True)
    assert evaluation is not None
    if evaluation.status not in RUNNABLE:
        return evaluation
    evaluation.status = EvaluationStatus.RUNNING
    evaluation.status_reason = None
    evaluation.started_at = evaluation.started_at or utcnow()
    return evaluation


def renew_lease(
    session: Session, evaluation_id: int, runner_id: str, lease: float, active: float
) -> str | None:
    """Extend our lease; returns the status, or None when another runner owns the evaluation now."""
    result = session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.runner_id == runner_id)
        .values(
            lease_expires_at=utcnow() + timedelta(seconds=lease),
            active_seconds=Evaluation.active_seconds + active,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.execute(select(Evaluation.status).where(Evaluation.id == evaluation_id)).scalar_one()


def lock_owned(session: Session, evaluation_id: int, runner_id: str, lease: float) -> Evaluation | None:
    """Touch the row we own (taking its row lock until commit) and return it, or None if the lease is lost."""
    result = session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.runner_id == runner_id)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Evaluation, evaluation_id, populate_existing=True)


def release(session: Session, evaluation_id: int, runner_id: str) -> None:
    session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.runner_id == runner_id)
        .values(runner_id=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def set_status(
    session: Session, evaluation_id: int, runner_id: str, status: EvaluationStatus, reason: str | None
) -> None:
    """Only moves an evaluation that is still running (a cancel from the API wins over the runner)."""
    values: dict[str, object] = {"status": status, "status_reason": reason}
    if status in FINISHED:
        values["finished_at"] = utcnow()
    session.execute(
        update(Evaluation)
        .where(
            Evaluation.id == evaluation_id,
            Evaluation.runner_id == runner_id,
            Evaluation.status == EvaluationStatus.RUNNING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def load_questions(session: Session, question_set_id: int) -> list[Question]:
    query = select(Question).where(Question.question_set_id == question_set_id).order_by(Question.position)
    return list(session.scalars(query))


def load_answers(session: Session, evaluation_id: int) -> list[EvaluationAnswer]:
    query = select(EvaluationAnswer).where(EvaluationAnswer.evaluation_id == evaluation_id)
    return list(session.scalars(query.order_by(EvaluationAnswer.id)))


def answered(session: Session, evaluation_id: int, role: str) -> set[int]:
    query = select(EvaluationAnswer.question_id).where(
        EvaluationAnswer.evaluation_id == evaluation_id, EvaluationAnswer.role == role
    )
    return set(session.scalars(query))


def done_judgments(session: Session, evaluation_id: int) -> set[JudgmentItem]:
    rows = session.execute(
        select(Judgment.question_id, Judgment.kind, Judgment.target).where(
            Judgment.evaluation_id == evaluation_id, Judgment.status.in_(DONE_JUDGMENT_STATUSES)
        )
    )
    return {(question_id, kind, target) for question_id, kind, target in rows}


def judgment_done(session: Session, evaluation_id: int, item: JudgmentItem) -> bool:
    question_id, kind, target = item
    found = session.scalar(
        select(Judgment.id)
        .where(
            Judgment.evaluation_id == evaluation_id,
            Judgment.question_id == question_id,
            Judgment.kind == kind,
            Judgment.target == target,
            Judgment.status.in_(DONE_JUDGMENT_STATUSES),
        )
        .limit(1)
    )
    return found is not None
