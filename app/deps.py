"""FastAPI dependencies, declared once as typed aliases."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.errors import Unauthorized


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: commit when the endpoint returns, roll back when it raises."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with unit_of_work(factory) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
# "function" scope: commit before the response is sent, so a client never reads ahead of its own write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def token_is_valid(settings: Settings, presented: str | None) -> bool:
    if settings.api_token is None:
        return True
    if not presented:
        return False
    return hmac.compare_digest(presented.encode(), settings.api_token.get_secret_value().encode())


def require_writer(request: Request, settings: SettingsDep) -> None:
    """Write endpoints need ``Authorization: Bearer <PASTURE_API_TOKEN>`` when a token is configured."""
    if settings.api_token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and token_is_valid(settings, value.strip()):
        return
    session_token = getattr(request.state, "session_token_ok", False)
    if session_token:
        return
    raise Unauthorized(
        "this endpoint needs 'Authorization: Bearer <token>' with the server's PASTURE_API_TOKEN"
    )


WriterDep = Depends(require_writer)
