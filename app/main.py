"""The application: lifespan, routers and error handlers; no logic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory, unit_of_work, upgrade_database
from app.errors import AppError
from app.evaluation.endpoints import router as evaluation_router
from app.evaluation.pages import router as evaluation_pages_router
from app.evaluation.runner import EvaluationRunner
from app.export.endpoints import router as exports_router
from app.generation.endpoints import router as jobs_router
from app.generation.runner import Runner
from app.records.endpoints import router as records_router
from app.review.endpoints import records_router as review_router
from app.review.endpoints import stats_router
from app.review.pages import router as pages_router
from app.review.rendering import STATIC as REVIEW_STATIC
from app.review.security import DashboardSecurityMiddleware
from app.seeds.endpoints import router as seeds_router
from app.seeds.service import sync_builtin_seed_sets
from app.training.endpoints import router as training_router
from app.training.pages import router as training_pages_router

logger = logging.getLogger("app")


def _field_path(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await asyncio.to_thread(upgrade_database, settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        with unit_of_work(app.state.session_factory) as session:
            sync_builtin_seed_sets(session, settings.seed_dir)
        stop = asyncio.Event()
        runner_task = None
        evaluation_task = None
        if settings.run_jobs:
            runner = Runner(app.state.session_factory, settings)
            app.state.runner = runner
            runner_task = asyncio.create_task(runner.run(stop), name="job-runner")
            evaluation_runner = EvaluationRunner(app.state.session_factory, settings)
            app.state.evaluation_runner = evaluation_runner
            evaluation_task = asyncio.create_task(evaluation_runner.run(stop), name="evaluation-runner")
        try:
            yield
        finally:
            stop.set()
            if runner_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await runner_task
            if evaluation_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await evaluation_task
            engine.dispose()

    app = FastAPI(
        title="Pasture",
        version="0.1.0",
        description="Grow instruction-tuning data from seed tasks through a teacher model, review it, "
        "export it and fine-tune on it.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse({"error": exc.message, "detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        messages = [f"{_field_path(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors]
        detail = [{"field": _field_path(e.get("loc", ())), "message": e.get("msg")} for e in errors]
        return JSONResponse({"error": "; ".join(messages), "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail), "detail": None},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.include_router(jobs_router)
    app.include_router(seeds_router)
    app.include_router(records_router)
    app.include_router(exports_router)
    app.include_router(training_router)
    app.include_router(review_router)
    app.include_router(stats_router)
    app.include_router(pages_router)
    app.include_router(evaluation_router)
    app.include_router(evaluation_pages_router)
    app.include_router(training_pages_router)
    app.mount("/static", StaticFiles(directory=REVIEW_STATIC), name="static")
    app.add_middleware(DashboardSecurityMiddleware, settings=settings)

    @app.get("/api/v1/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
