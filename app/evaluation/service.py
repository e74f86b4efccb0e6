"""Evaluation rules: create, inspect, cancel and resume evaluations; their answers (including those a
worker posts) and judgments. No web imports: the runner, the CLI and the dashboard reuse it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.evaluation.model_registry import get_model
from app.evaluation.question_sets import get_question_set
from app.evaluation.schemas import (
    AnswerRead,
    AnswersPost,
    AnswersPosted,
    EvaluationCreate,
    EvaluationProgress,
    EvaluationRead,
    JudgmentRead,
)
from app.models import (
    AnsweredBy,
    Evaluation,
    EvaluationAnswer,
    EvaluationStatus,
    Judgment,
    JudgmentKind,
    JudgmentStatus,
    ModelEndpoint,
    Question,
    QuestionSet,
    Role,
)
from app.models.evaluation import DONE_JUDGMENT_STATUSES
from app.pagination import decode_cursor, encode_cursor

ReadT = TypeVar("ReadT", bound=BaseModel)


def pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    """{first column: second column} of a two-column result."""
    return {row[0]: row[1] for row in rows}


class EvaluationNotFound(NotFound):
    pass


# -- evaluations ------------------------------------------------------------------------------------------
def create_evaluation(session: Session, data: EvaluationCreate) -> Evaluation:
    question_set = get_question_set(session, data.question_set)
    candidate = get_model(session, data.candidate, field="candidate")
    baseline = get_model(session, data.baseline, field="baseline")
    judge = get_model(session, data.judge, field="judge")
    if candidate.id == baseline.id:
        raise InvalidInput("baseline: compare the candidate with a different model")
    if judge.answered_by != AnsweredBy.ENDPOINT:
        raise InvalidInput(f"judge: model '{judge.name}' is answered by a worker; a judge needs an endpoint")
    if data.name is not None and session.scalar(select(Evaluation.id).where(Evaluation.name == data.name)):
        raise Conflict(f"name: an evaluation named '{data.name}' already exists")
    evaluation = Evaluation(
        name=data.name,
        status=EvaluationStatus.QUEUED,
        question_set_id=question_set.id,
        candidate_id=candidate.id,
        baseline_id=baseline.id,
        judge_id=judge.id,
        pairwise=data.pairwise,
        single=data.single,
        reference_categories=data.reference_categories,
        judge_temperature=data.judge_temperature,
        judge_max_tokens=data.judge_max_tokens,
        concurrency=data.concurrency,
        bootstrap_samples=data.bootstrap_samples,
        seed=data.seed,
    )
    session.add(evaluation)
    session.flush()
    return evaluation


def get_evaluation(session: Session, evaluation_id: int) -> Evaluation:
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise EvaluationNotFound(f"evaluation {evaluation_id} does not exist")
    return evaluation


def list_evaluations(
    session: Session, *, limit: int = 50, cursor: str | None = None, status: str | None = None
) -> tuple[list[Evaluation], int, str | None]:
    query = select(Evaluation).order_by(Evaluation.id.desc())
    count = select(func.count(Evaluation.id))
    if status is not None:
        if status not in set(EvaluationStatus):
            raise InvalidInput(f"status: unknown status '{status}'; one of {', '.join(EvaluationStatus)}")
        query = query.where(Evaluation.status == status)
        count = count.where(Evaluation.status == status)
    if cursor:
        query = query.where(Evaluation.id < decode_cursor(cursor))
    items = list(session.scalars(query.limit(limit + 1)))
    next_cursor = encode_cursor(items[limit - 1].id) if len(items) > limit else None
    return items[:limit], session.scalar(count) or 0, next_cursor


def _transition(
    session: Session, evaluation_id: int, allowed: set[EvaluationStatus], to: EvaluationStatus, verb: str
) -> Evaluation:
    evaluation = get_evaluation(session, evaluation_id)
    if evaluation.status == to:
        return evaluation
    if evaluation.status not in allowed:
        raise Conflict(
            f"evaluation {evaluation_id} is {evaluation.status}; only one that is "
            f"{', '.join(sorted(allowed))} can be {verb}"
        )
    evaluation.status = to
    evaluation.status_reason = f"{verb} by request"
    if to == EvaluationStatus.QUEUED:
        evaluation.status_reason = None
        evaluation.finished_at = None
    session.flush()
    return evaluation


def cancel_evaluation(session: Session, evaluation_id: int) -> Evaluation:
    allowed = {
        EvaluationStatus.QUEUED,
        EvaluationStatus.RUNNING,
        EvaluationStatus.WAITING,
        EvaluationStatus.FAILED,
    }
    return _transition(session, evaluation_id, allowed, EvaluationStatus.CANCELLED, "cancelled")


def resume_evaluation(session: Session, evaluation_id: int) -> Evaluation:
    allowed = {EvaluationStatus.FAILED, EvaluationStatus.WAITING}
    return _transition(session, evaluation_id, allowed, EvaluationStatus.QUEUED, "resumed")


@dataclass(frozen=True, slots=True)
class _Names:
    question_set: str
    models: dict[int, str]


def _names(session: Session, evaluations: list[Evaluation]) -> dict[int, _Names]:
    model_ids = {i for e in evaluations for i in (e.candidate_id, e.baseline_id, e.judge_id)}
    set_ids = {e.question_set_id for e in evaluations}
    models = pairs(
        session.execute(select(ModelEndpoint.id, ModelEndpoint.name).where(ModelEndpoint.id.in_(model_ids)))
    )
    sets = pairs(session.execute(select(QuestionSet.id, QuestionSet.name).where(QuestionSet.id.in_(set_ids))))
    return {e.id: _Names(sets[e.question_set_id], models) for e in evaluations}


def expected_judgments(evaluation: Evaluation, questions: int) -> int:
    return questions * (2 * evaluation.pairwise + 2 * evaluation.single)


def progress_of(session: Session, evaluations: list[Evaluation]) -> dict[int, EvaluationProgress]:
    ids = [e.id for e in evaluations]
    if not ids:
        return {}
    set_sizes = pairs(
        session.execute(
            select(QuestionSet.id, QuestionSet.question_count).where(
                QuestionSet.id.in_({e.question_set_id for e in evaluations})
            )
        )
    )
    answers = pairs(
        session.execute(
            select(EvaluationAnswer.evaluation_id, func.count(EvaluationAnswer.id))
            .where(EvaluationAnswer.evaluation_id.in_(ids))
            .group_by(EvaluationAnswer.evaluation_id)
        )
    )
    judged = pairs(
        session.execute(
            select(Judgment.evaluation_id, func.count(Judgment.id))
            .where(Judgment.evaluation_id.in_(ids), Judgment.status.in_(DONE_JUDGMENT_STATUSES))
            .group_by(Judgment.evaluation_id)
        )
    )
    result = {}
    for e in evaluations:
        size = set_sizes[e.question_set_id]
        result[e.id] = EvaluationProgress(
            questions=size,
            answers_expected=2 * size,
            answers_stored=answers.get(e.id, 0),
            judgments_expected=expected_judgments(e, size),
            judgments_done=judged.get(e.id, 0),
        )
    return result


def evaluation_reads(session: Session, evaluations: list[Evaluation]) -> list[EvaluationRead]:
    names = _names(session, evaluations)
    progress = progress_of(session, evaluations)
    reads = []
    for e in evaluations:
        data: dict[str, Any] = {c: getattr(e, c) for c in EvaluationRead.model_fields if hasattr(e, c)}
        n = names[e.id]
        data.update(
            question_set=n.question_set,
            candidate=n.models[e.candidate_id],
            baseline=n.models[e.baseline_id],
            judge=n.models[e.judge_id],
            progress=progress[e.id],
        )
        reads.append(EvaluationRead.model_validate(data))
    return reads


def evaluation_read(session: Session, evaluation: Evaluation) -> EvaluationRead:
    return evaluation_reads(session, [evaluation])[0]


# -- answers ----------------------------------------------------------------------------------------------
def list_answers(
    session: Session,
    evaluation_id: int,
    *,
    role: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[AnswerRead], int, str | None]:
    get_evaluation(session, evaluation_id)
    conditions = [EvaluationAnswer.evaluation_id == evaluation_id]
    if role is not None:
        if role not in set(Role):
            raise InvalidInput(f"role: expected 'candidate' or 'baseline', got '{role}'")
        conditions.append(EvaluationAnswer.role == role)
    return _page_with_question(session, EvaluationAnswer, conditions, AnswerRead, limit, cursor)


def missing_answers(session: Session, evaluation: Evaluation) -> dict[str, int]:
    """Answers not stored yet, by model name (both roles)."""
    size = (
        session.scalar(select(QuestionSet.question_count).where(QuestionSet.id == evaluation.question_set_id))
        or 0
    )
    result = {}
    for role, model_id in (
        (Role.CANDIDATE, evaluation.candidate_id),
        (Role.BASELINE, evaluation.baseline_id),
    ):
        stored = (
            session.scalar(
                select(func.count(EvaluationAnswer.id)).where(
                    EvaluationAnswer.evaluation_id == evaluation.id, EvaluationAnswer.role == role
                )
            )
            or 0
        )
        model = session.get(ModelEndpoint, model_id)
        assert model is not None
        result[model.name] = size - stored
    return result


def post_answers(session: Session, evaluation_id: int, data: AnswersPost) -> AnswersPosted:
    """Store answers a worker made (e.g. with a training run's adapter). An answer already stored is kept,
    never replaced: what was judged stays judged against the answer it saw."""
    evaluation = get_evaluation(session, evaluation_id)
    if evaluation.status in (EvaluationStatus.SUCCEEDED, EvaluationStatus.CANCELLED):
        raise Conflict(f"evaluation {evaluation_id} is {evaluation.status}; it takes no more answers")
    roles: dict[str, tuple[Role, ModelEndpoint]] = {}
    for role, model_id in (
        (Role.CANDIDATE, evaluation.candidate_id),
        (Role.BASELINE, evaluation.baseline_id),
    ):
        model = session.get(ModelEndpoint, model_id)
        assert model is not None
        roles[model.name] = (role, model)
    questions = {
        q.key: q
        for q in session.scalars(
            select(Question).where(Question.question_set_id == evaluation.question_set_id)
        )
    }
    errors = []
    for index, item in enumerate(data.answers):
        where = f"answers[{index}]"
        if item.model_name not in roles:
            errors.append(
                f"{where}.model_name: '{item.model_name}' is neither this evaluation's candidate nor its "
                f"baseline ({', '.join(roles)})"
            )
        elif roles[item.model_name][1].answered_by != AnsweredBy.WORKER:
            errors.append(
                f"{where}.model_name: '{item.model_name}' is answered by its endpoint; Pasture asks it itself"
            )
        question = questions.get(str(item.question_id).strip())
        if question is None:
            errors.append(f"{where}.question_id: no question '{item.question_id}' in this evaluation's set")
        else:
            turns = [item.answer] if isinstance(item.answer, str) else item.answer
            if len(turns) != len(question.turns):
                errors.append(
                    f"{where}.answer: question '{question.key}' has {len(question.turns)} turns, "
                    f"the answer has {len(turns)}"
                )
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise InvalidInput(errors[0] + more, detail=errors[:20])

    stored = 0
    already: list[str] = []
    seen: set[tuple[str, int]] = set()
    existing = {
        (role, question_id)
        for role, question_id in session.execute(
            select(EvaluationAnswer.role, EvaluationAnswer.question_id).where(
                EvaluationAnswer.evaluation_id == evaluation.id
            )
        )
    }
    for item in data.answers:
        role, model = roles[item.model_name]
        question = questions[str(item.question_id).strip()]
        if (role, question.id) in existing or (role, question.id) in seen:
            already.append(question.key)
            continue
        seen.add((role, question.id))
        session.add(
            EvaluationAnswer(
                evaluation_id=evaluation.id,
                question_id=question.id,
                role=role,
                model=model.model,
                source=AnsweredBy.WORKER,
                turns=[item.answer] if isinstance(item.answer, str) else list(item.answer),
                prompt_tokens=item.prompt_tokens,
                completion_tokens=item.completion_tokens,
                latency_ms=item.latency_ms,
            )
        )
        stored += 1
    evaluation.answers_stored += stored
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "another request stored some of these answers at the same time; post the batch again "
            "(answers already stored are reported, not replaced)"
        ) from None
    missing = missing_answers(session, evaluation)
    if evaluation.status == EvaluationStatus.WAITING and not any(missing.values()):
        evaluation.status = EvaluationStatus.QUEUED
        evaluation.status_reason = None
        session.flush()
    return AnswersPosted(stored=stored, already_stored=already, missing=missing, status=evaluation.status)


# -- judgments --------------------------------------------------------------------------------------------
def list_judgments(
    session: Session,
    evaluation_id: int,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[JudgmentRead], int, str | None]:
    get_evaluation(session, evaluation_id)
    conditions = [Judgment.evaluation_id == evaluation_id]
    if kind is not None:
        if kind not in set(JudgmentKind):
            raise InvalidInput(f"kind: expected 'pairwise' or 'single', got '{kind}'")
        conditions.append(Judgment.kind == kind)
    if status is not None:
        if status not in set(JudgmentStatus):
            raise InvalidInput(f"status: expected one of {', '.join(JudgmentStatus)}, got '{status}'")
        conditions.append(Judgment.status == status)
    return _page_with_question(session, Judgment, conditions, JudgmentRead, limit, cursor)


def _page_with_question(
    session: Session,
    model: Any,
    conditions: list[Any],
    schema: type[ReadT],
    limit: int,
    cursor: str | None,
) -> tuple[list[ReadT], int, str | None]:
    """A cursor page of answers or judgments, each with its question's key and category."""
    query = (
        select(model, Question.key, Question.category)
        .join(Question, Question.id == model.question_id)
        .where(*conditions)
        .order_by(model.id)
    )
    if cursor:
        query = query.where(model.id > decode_cursor(cursor))
    rows = session.execute(query.limit(limit + 1)).all()
    total = session.scalar(select(func.count(model.id)).where(*conditions)) or 0
    items = [
        schema.model_validate(
            {c: getattr(row, c) for c in schema.model_fields if hasattr(row, c)}
            | {"question_id": key, "category": category}
        )
        for row, key, category in rows[:limit]
    ]
    next_cursor = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    return items, total, next_cursor
