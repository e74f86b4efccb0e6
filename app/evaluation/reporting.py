"""An evaluation's report from its stored answers and verdicts (the numbers come from ``report``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.evaluation import report as numbers
from app.evaluation.model_registry import model_link
from app.evaluation.schemas import CallCosts, ReportRead
from app.evaluation.service import get_evaluation, pairs, progress_of
from app.models import (
    Evaluation,
    EvaluationAnswer,
    Judgment,
    JudgmentStatus,
    JudgmentTarget,
    ModelEndpoint,
    Question,
    QuestionSet,
    Role,
)


def _outcomes(session: Session, evaluation: Evaluation) -> list[numbers.QuestionOutcome]:
    questions = list(
        session.scalars(
            select(Question)
            .where(Question.question_set_id == evaluation.question_set_id)
            .order_by(Question.position)
        )
    )
    answers: dict[tuple[str, int], str] = {
        (role, question_id): "\n\n".join(turns)
        for role, question_id, turns in session.execute(
            select(EvaluationAnswer.role, EvaluationAnswer.question_id, EvaluationAnswer.turns).where(
                EvaluationAnswer.evaluation_id == evaluation.id
            )
        )
    }
    verdicts: dict[tuple[int, str], Judgment] = {}
    for judgment in session.scalars(
        select(Judgment)
        .where(Judgment.evaluation_id == evaluation.id, Judgment.status == JudgmentStatus.OK)
        .order_by(Judgment.id)
    ):
        verdicts.setdefault((judgment.question_id, judgment.target), judgment)

    def winner(question_id: int, target: JudgmentTarget) -> str | None:
        found = verdicts.get((question_id, target))
        return found.winner if found is not None else None

    def score(question_id: int, target: JudgmentTarget) -> float | None:
        found = verdicts.get((question_id, target))
        return found.score if found is not None else None

    return [
        numbers.QuestionOutcome(
            key=q.key,
            category=q.category,
            candidate_first=winner(q.id, JudgmentTarget.CANDIDATE_FIRST),
            baseline_first=winner(q.id, JudgmentTarget.BASELINE_FIRST),
            candidate_score=score(q.id, JudgmentTarget.CANDIDATE),
            baseline_score=score(q.id, JudgmentTarget.BASELINE),
            candidate_answer=answers.get((Role.CANDIDATE, q.id)),
            baseline_answer=answers.get((Role.BASELINE, q.id)),
        )
        for q in questions
    ]


def _costs(session: Session, model: type[Judgment] | type[EvaluationAnswer], evaluation_id: int) -> CallCosts:
    row = session.execute(
        select(
            func.count(model.id),
            func.coalesce(func.sum(model.prompt_tokens), 0),
            func.coalesce(func.sum(model.completion_tokens), 0),
            func.coalesce(func.sum(model.cost_usd), 0.0),
        ).where(model.evaluation_id == evaluation_id)
    ).one()
    failed = unparsable = 0
    if model is Judgment:
        by_status = pairs(
            session.execute(
                select(Judgment.status, func.count(Judgment.id))
                .where(Judgment.evaluation_id == evaluation_id)
                .group_by(Judgment.status)
            )
        )
        failed = by_status.get(JudgmentStatus.FAILED, 0)
        unparsable = by_status.get(JudgmentStatus.UNPARSABLE, 0)
    return CallCosts(
        calls=row[0],
        failed=failed,
        unparsable=unparsable,
        prompt_tokens=int(row[1]),
        completion_tokens=int(row[2]),
        cost_usd=float(row[3]),
    )


def build_report(session: Session, evaluation_id: int, *, with_intervals: bool = True) -> ReportRead:
    """The report as it stands (partial while the evaluation runs). ``with_intervals=False`` skips the
    bootstrap, for overviews of many evaluations."""
    evaluation = get_evaluation(session, evaluation_id)
    models = {
        m.id: m
        for m in session.scalars(
            select(ModelEndpoint).where(
                ModelEndpoint.id.in_({evaluation.candidate_id, evaluation.baseline_id, evaluation.judge_id})
            )
        )
    }
    question_set = session.get(QuestionSet, evaluation.question_set_id)
    assert question_set is not None
    result = numbers.build_report(
        _outcomes(session, evaluation),
        bootstrap_samples=evaluation.bootstrap_samples if with_intervals else 0,
        seed=evaluation.seed,
    )
    progress = progress_of(session, [evaluation])[evaluation.id]
    complete = (
        progress.answers_stored == progress.answers_expected
        and progress.judgments_done == progress.judgments_expected
    )
    return ReportRead.model_validate(
        {
            "evaluation_id": evaluation.id,
            "status": evaluation.status,
            "question_set": question_set.name,
            "candidate": model_link(models[evaluation.candidate_id]),
            "baseline": model_link(models[evaluation.baseline_id]),
            "judge": model_link(models[evaluation.judge_id]),
            "complete": complete,
            "confidence": result.confidence,
            "bootstrap_samples": result.bootstrap_samples,
            "seed": result.seed,
            "overall": result.overall,
            "categories": result.categories,
            "judge_costs": _costs(session, Judgment, evaluation.id),
            "answer_costs": _costs(session, EvaluationAnswer, evaluation.id),
        },
        from_attributes=True,
    )
