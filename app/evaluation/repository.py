"""Every query the evaluation runner makes. Functions take a Session; the caller owns the transaction."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import leases
from app.db import utcnow
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
    active_seconds = Evaluation.active_seconds + active
    if not leases.extend(session, Evaluation, evaluation_id, runner_id, lease, active_seconds=active_seconds):
        return None
    return session.execute(select(Evaluation.status).where(Evaluation.id == evaluation_id)).scalar_one()


def lock_owned(session: Session, evaluation_id: int, runner_id: str, lease: float) -> Evaluation | None:
    """Touch the row we own (taking its row lock until commit) and return it, or None if the lease is lost."""
    if not leases.extend(session, Evaluation, evaluation_id, runner_id, lease):
        return None
    return session.get(Evaluation, evaluation_id, populate_existing=True)


def release(session: Session, evaluation_id: int, runner_id: str) -> None:
    leases.release(session, Evaluation, evaluation_id, runner_id)


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
