from __future__ import annotations

from fastapi import APIRouter, Query, Request

from app.deps import SessionDep, WriterDep
from app.seeds import service
from app.seeds.schemas import SeedSetDetail, SeedSetRead

router = APIRouter(prefix="/api/v1/seed-sets", tags=["seed sets"])


@router.get("", response_model=list[SeedSetRead])
def list_seed_sets(session: SessionDep) -> list[SeedSetRead]:
    return [SeedSetRead.model_validate(s) for s in service.list_seed_sets(session)]


@router.get("/{name}", response_model=SeedSetDetail)
def get_seed_set(name: str, session: SessionDep) -> SeedSetDetail:
    return SeedSetDetail.model_validate(service.get_seed_set(session, name))


@router.post(
    "",
    status_code=201,
    response_model=SeedSetRead,
    dependencies=[WriterDep],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file itself: self-instruct jsonl (instruction, instances[{input, output}]), "
            "Alpaca jsonl, or an Alpaca JSON list.",
            "content": {"application/jsonl": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_seed_set(
    request: Request,
    session: SessionDep,
    name: str = Query(..., description="A new, unique name."),
    language: str = Query("en"),
    description: str = Query(""),
) -> SeedSetRead:
    """Upload a seed set as the raw request body, e.g. ``curl --data-binary @seeds.jsonl``.
    Every line is validated; an error names the line and the field."""
    data = await request.body()
    seed_set = service.upload_seed_set(
        session, name=name, language=language, data=data, description=description
    )
    return SeedSetRead.model_validate(seed_set)
