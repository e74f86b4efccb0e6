"""Shared fixtures: real databases (SQLite, PostgreSQL), the fake teacher over HTTP, a live server."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from app.config import Settings
from app.db import make_engine, make_session_factory, upgrade_database
from app.main import create_app
from tests.fake_teacher import FakeTeacher

PG_ADMIN_URL = os.environ.get("PASTURE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TABLES = (
    "evaluation_judgments",
    "evaluation_answers",
    "evaluations",
    "questions",
    "question_sets",
    "model_endpoints",
    "record_edits",
    "records",
    "teacher_calls",
    "jobs",
    "seed_tasks",
    "seed_sets",
    "training_progress",
    "training_runs",
    "export_lines",
    "exports",
)


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file (an Alembic upgrade per test would dominate the suite)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 (CI must start it)")
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    name = f"pasture_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrised over both backends: tests that take it run on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "pasture.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "pasture.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def session_factory(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def teacher() -> Iterator[FakeTeacher]:
    with FakeTeacher(api_key="sk-test-key") as fake:
        yield fake


def make_settings(database_url: str, teacher: FakeTeacher | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "poll_seconds": 0.05,
        "lease_seconds": 5.0,
        "teacher_timeout": 5.0,
        "teacher_max_attempts": 4,
        "teacher_backoff_max": 1.0,
    }
    if teacher is not None:
        values["OPENAI_BASE_URL"] = teacher.base_url
        values["OPENAI_API_KEY"] = "sk-test-key"
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class LiveServer:
    """The real application under uvicorn on a free port, in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings, migrate=False), log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self.client = httpx2.Client(base_url=self.url, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def live_server(database_url: str, teacher: FakeTeacher) -> Iterator[LiveServer]:
    with LiveServer(make_settings(database_url, teacher)) as server:
        yield server


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
