from __future__ import annotations

from fastapi import APIRouter, Query, Response

from app.deps import SessionDep, WriterDep
from app.pagination import decode_cursor, encode_cursor
from app.schemas import Page
from app.training import service
from app.training.schemas import (
    ClaimRequest,
    ClaimResponse,
    CompleteRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    TrainingRunCreate,
    TrainingRunDetail,
    TrainingRunRead,
)

router = APIRouter(prefix="/api/v1/training-runs", tags=["training runs"])


@router.post("", status_code=201, response_model=TrainingRunRead, dependencies=[WriterDep])
def create_run(data: TrainingRunCreate, session: SessionDep) -> TrainingRunRead:
    """Queue a fine-tune of an export; a `pasture-worker run` claims it."""
    return service.run_read(service.create_run(session, data))


@router.get("", response_model=Page[TrainingRunRead])
def list_runs(
    session: SessionDep, limit: int = Query(50, ge=1, le=500), cursor: str | None = None
) -> Page[TrainingRunRead]:
    runs, total = service.list_runs(session, limit=limit, before=decode_cursor(cursor) if cursor else None)
    next_cursor = encode_cursor(runs[-1].id) if len(runs) == limit else None
    return Page(items=[service.run_read(r) for r in runs], total=total, next_cursor=next_cursor)


@router.post(
    "/claim",
    response_model=ClaimResponse,
    dependencies=[WriterDep],
    responses={204: {"description": "No run is waiting."}},
)
def claim_run(data: ClaimRequest, session: SessionDep) -> ClaimResponse | Response:
    claimed = service.claim_run(session, data.worker_id, data.lease_seconds)
    if claimed is None:
        return Response(status_code=204)
    return ClaimResponse(run=claimed)


@router.get("/{run_id}", response_model=TrainingRunDetail)
def get_run(run_id: int, session: SessionDep) -> TrainingRunDetail:
    """The run with its loss curve (one point per heartbeat)."""
    return service.run_detail(session, service.get_run(session, run_id))


@router.post("/{run_id}/heartbeat", response_model=HeartbeatResponse, dependencies=[WriterDep])
def heartbeat(run_id: int, data: HeartbeatRequest, session: SessionDep) -> HeartbeatResponse:
    status = service.heartbeat(session, run_id, data.worker_id, data.progress, data.lease_seconds)
    return HeartbeatResponse(status=status)


@router.post("/{run_id}/complete", response_model=TrainingRunRead, dependencies=[WriterDep])
def complete_run(run_id: int, data: CompleteRequest, session: SessionDep) -> TrainingRunRead:
    return service.run_read(service.complete(session, run_id, data))


@router.post("/{run_id}/cancel", response_model=TrainingRunRead, dependencies=[WriterDep])
def cancel_run(run_id: int, session: SessionDep) -> TrainingRunRead:
    return service.run_read(service.cancel(session, run_id))
