"""Evaluation over REST: question sets, the model registry, evaluations, their answers, verdicts and report.

A worker that answers with a trained adapter (a model registered with ``answered_by: "worker"``) uses:

    GET  /api/v1/evaluations?status=waiting
        the evaluations that wait for posted answers; each names its question_set and candidate/baseline
    GET  /api/v1/question-sets/{name}
        {"questions": [{"question_id": str, "category": str, "turns": [str, ...], "reference": ...}, ...]}
    POST /api/v1/evaluations/{id}/answers
        {"answers": [{"question_id": str | int, "model_name": str, "answer": str | [str, ...],
                      "prompt_tokens": int?, "completion_tokens": int?, "latency_ms": float?}, ...]}
        200 {"stored": int, "already_stored": [question_id, ...], "missing": {model_name: int}, "status": str}
        422 names every bad item and field; nothing of the batch is stored then

``answer`` is a list with one reply per turn (a string for a single-turn question). An answer already stored
is kept as it was (listed in ``already_stored``). When the last missing answer arrives, the evaluation is
queued again and judged.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from app.deps import SessionDep, WriterDep
from app.evaluation import model_registry, question_sets, reporting, service
from app.evaluation.schemas import (
    AnswerRead,
    AnswersPost,
    AnswersPosted,
    EvaluationCreate,
    EvaluationCreated,
    EvaluationRead,
    JudgmentRead,
    ModelCreate,
    ModelRead,
    ModelUpdate,
    QuestionSetDetail,
    QuestionSetRead,
    ReportRead,
)
from app.schemas import Page

question_sets_router = APIRouter(prefix="/api/v1/question-sets", tags=["evaluation"])
models_router = APIRouter(prefix="/api/v1/models", tags=["evaluation"])
evaluations_router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluation"])


# -- question sets ----------------------------------------------------------------------------------------
@question_sets_router.get("", response_model=list[QuestionSetRead])
def list_question_sets(session: SessionDep) -> list[QuestionSetRead]:
    return question_sets.list_question_sets(session)


@question_sets_router.get("/{name}", response_model=QuestionSetDetail)
def get_question_set(name: str, session: SessionDep) -> QuestionSetDetail:
    return question_sets.question_set_detail(question_sets.get_question_set(session, name))


@question_sets_router.post(
    "",
    status_code=201,
    response_model=QuestionSetRead,
    dependencies=[WriterDep],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file itself: jsonl with question_id, category, turns (a list of the "
            "user's messages; Vicuna's older 'text' is accepted too) and an optional reference.",
            "content": {"application/jsonl": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_question_set(
    request: Request,
    session: SessionDep,
    name: str = Query(..., description="A new, unique name."),
    description: str = Query(""),
) -> QuestionSetRead:
    """Upload a question set as the raw request body, e.g. ``curl --data-binary @question.jsonl``.
    Every line is validated; an error names the line and the field."""
    data = await request.body()
    question_set = question_sets.upload_question_set(session, name=name, data=data, description=description)
    return QuestionSetRead.model_validate(question_set)


# -- models -----------------------------------------------------------------------------------------------
@models_router.post("", status_code=201, response_model=ModelRead, dependencies=[WriterDep])
def create_model(data: ModelCreate, session: SessionDep) -> ModelRead:
    """Register a model to evaluate or judge with: any OpenAI-compatible server (vLLM, Ollama, OpenAI ...),
    or answers a worker posts (``answered_by: "worker"``)."""
    return model_registry.model_read(model_registry.create_model(session, data))


@models_router.get("", response_model=list[ModelRead])
def list_models(session: SessionDep) -> list[ModelRead]:
    return [model_registry.model_read(m) for m in model_registry.list_models(session)]


@models_router.get("/{name}", response_model=ModelRead)
def get_model(name: str, session: SessionDep) -> ModelRead:
    return model_registry.model_read(model_registry.get_model(session, name))


@models_router.patch("/{name}", response_model=ModelRead, dependencies=[WriterDep])
def update_model(name: str, data: ModelUpdate, session: SessionDep) -> ModelRead:
    """Change where or how a model is asked (e.g. fix a base_url, then resume the evaluation)."""
    return model_registry.model_read(model_registry.update_model(session, name, data))


@models_router.delete("/{name}", status_code=204, dependencies=[WriterDep])
def delete_model(name: str, session: SessionDep) -> Response:
    model_registry.delete_model(session, name)
    return Response(status_code=204)


# -- evaluations ------------------------------------------------------------------------------------------
@evaluations_router.post("", status_code=201, response_model=EvaluationCreated, dependencies=[WriterDep])
def create_evaluation(data: EvaluationCreate, session: SessionDep) -> EvaluationCreated:
    """Queue an evaluation of a candidate against a baseline on a question set; a runner picks it up."""
    evaluation = service.create_evaluation(session, data)
    return EvaluationCreated(id=evaluation.id, status=evaluation.status)


@evaluations_router.get("", response_model=Page[EvaluationRead])
def list_evaluations(
    session: SessionDep,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    status: str | None = Query(None, description="e.g. 'waiting': evaluations that need posted answers"),
) -> Page[EvaluationRead]:
    items, total, next_cursor = service.list_evaluations(session, limit=limit, cursor=cursor, status=status)
    return Page(items=service.evaluation_reads(session, items), total=total, next_cursor=next_cursor)


@evaluations_router.get("/{evaluation_id}", response_model=EvaluationRead)
def get_evaluation(evaluation_id: int, session: SessionDep) -> EvaluationRead:
    return service.evaluation_read(session, service.get_evaluation(session, evaluation_id))


@evaluations_router.get("/{evaluation_id}/report", response_model=ReportRead)
def get_report(evaluation_id: int, session: SessionDep) -> ReportRead:
    """Win/tie/loss with bootstrap confidence intervals, Vicuna's relative score, the flip rate and the
    answer-length difference, overall and per category. Partial while the evaluation runs."""
    return reporting.build_report(session, evaluation_id)


@evaluations_router.get("/{evaluation_id}/answers", response_model=Page[AnswerRead])
def list_answers(
    evaluation_id: int,
    session: SessionDep,
    role: str | None = Query(None, description="candidate or baseline"),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> Page[AnswerRead]:
    items, total, next_cursor = service.list_answers(
        session, evaluation_id, role=role, limit=limit, cursor=cursor
    )
    return Page(items=items, total=total, next_cursor=next_cursor)


@evaluations_router.post("/{evaluation_id}/answers", response_model=AnswersPosted, dependencies=[WriterDep])
def post_answers(evaluation_id: int, data: AnswersPost, session: SessionDep) -> AnswersPosted:
    """Store answers made elsewhere, e.g. by a worker that ran a training run's adapter over the question
    set. Only for models registered with ``answered_by: "worker"``. An answer already stored is kept; once
    every answer is in, a waiting evaluation is queued for judging."""
    return service.post_answers(session, evaluation_id, data)


@evaluations_router.get("/{evaluation_id}/judgments", response_model=Page[JudgmentRead])
def list_judgments(
    evaluation_id: int,
    session: SessionDep,
    kind: str | None = Query(None, description="pairwise or single"),
    status: str | None = Query(None, description="ok, unparsable or failed"),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> Page[JudgmentRead]:
    """Every judge call: what was sent, the raw reply, the verdict read from it, tokens and cost."""
    items, total, next_cursor = service.list_judgments(
        session, evaluation_id, kind=kind, status=status, limit=limit, cursor=cursor
    )
    return Page(items=items, total=total, next_cursor=next_cursor)


@evaluations_router.post("/{evaluation_id}/cancel", response_model=EvaluationRead, dependencies=[WriterDep])
def cancel_evaluation(evaluation_id: int, session: SessionDep) -> EvaluationRead:
    return service.evaluation_read(session, service.cancel_evaluation(session, evaluation_id))


@evaluations_router.post("/{evaluation_id}/resume", response_model=EvaluationRead, dependencies=[WriterDep])
def resume_evaluation(evaluation_id: int, session: SessionDep) -> EvaluationRead:
    """Queue a failed (or waiting) evaluation again; it asks only for what is still missing."""
    return service.evaluation_read(session, service.resume_evaluation(session, evaluation_id))


router = APIRouter()
router.include_router(question_sets_router)
router.include_router(models_router)
router.include_router(evaluations_router)
