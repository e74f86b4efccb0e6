from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy.orm import Session

from app.deps import SessionDep, WriterDep
from app.export import service
from app.export.schemas import ExportCreate, ExportRead
from app.pagination import decode_cursor, encode_cursor
from app.schemas import Page

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])


def _stream(request: Request, session: Session, export_id: int, split: str) -> Response:
    export = service.get_export(session, export_id)
    digest = export.sha256 if split == "train" else export.validation_sha256
    etag = f'"{digest}"'
    if digest and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    bind = session.get_bind()

    def body() -> Iterator[bytes]:
        # Its own session: the request's session is closed once the endpoint returns.
        with Session(bind=bind) as stream_session:
            yield from service.iter_lines(stream_session, export_id, split)

    suffix = "" if split == "train" else "-validation"
    headers = {"Content-Disposition": f'attachment; filename="export-{export_id}{suffix}.jsonl"'}
    if digest:
        headers["ETag"] = etag
    return StreamingResponse(body(), media_type="application/x-ndjson", headers=headers)


@router.post("", status_code=201, response_model=ExportRead, dependencies=[WriterDep])
def create_export(data: ExportCreate, session: SessionDep) -> ExportRead:
    """Snapshot the matching kept records (approved ones by default) in one format, with a hashed split."""
    return ExportRead.model_validate(service.create_export(session, data))


@router.get("", response_model=Page[ExportRead])
def list_exports(
    session: SessionDep, limit: int = Query(50, ge=1, le=500), cursor: str | None = None
) -> Page[ExportRead]:
    exports, total = service.list_exports(
        session, limit=limit, before=decode_cursor(cursor) if cursor else None
    )
    next_cursor = encode_cursor(exports[-1].id) if len(exports) == limit else None
    return Page(items=[ExportRead.model_validate(e) for e in exports], total=total, next_cursor=next_cursor)


@router.get("/{export_id}.jsonl", response_class=StreamingResponse)
def download_export(export_id: int, request: Request, session: SessionDep) -> Response:
    """The training split, byte for byte what ``sha256`` names."""
    return _stream(request, session, export_id, "train")


@router.get("/{export_id}/validation.jsonl", response_class=StreamingResponse)
def download_validation(export_id: int, request: Request, session: SessionDep) -> Response:
    return _stream(request, session, export_id, "validation")


@router.get("/{export_id}/card.md", response_class=PlainTextResponse)
def dataset_card(export_id: int, session: SessionDep) -> PlainTextResponse:
    card = service.dataset_card(service.get_export(session, export_id))
    return PlainTextResponse(card, media_type="text/markdown; charset=utf-8")


@router.get("/{export_id}", response_model=ExportRead)
def get_export(export_id: int, session: SessionDep) -> ExportRead:
    return ExportRead.model_validate(service.get_export(session, export_id))
