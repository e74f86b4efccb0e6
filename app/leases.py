"""Work held under a lease: rows (jobs, evaluations) that a runner claims, renews and hands back.

A row is runnable while its status is in the caller's set; a runner takes it with a compare-and-set
on (runner_id, lease_expires_at), so two runners never hold the same row. A runner that stops
renewing loses the row when its lease expires, or at once when it was a process on this host that is
gone. ``LeaseRunner`` is the loop that claims rows and runs an execution for each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import unit_of_work, utcnow

logger = logging.getLogger(__name__)


def make_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def runner_is_dead_here(runner_id: str) -> bool:
    """A runner on this host whose process is gone can be taken over without waiting for its lease."""
    parts = runner_id.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claimable(
    session: Session, model: Any, runnable: Sequence[str], *, limit: int, only_id: int | None = None
) -> list[tuple[int, str | None]]:
    """(id, current owner) of runnable rows nobody holds, oldest first."""
    now = utcnow()
    query = select(model.id, model.runner_id, model.lease_expires_at).where(model.status.in_(runnable))
    if only_id is not None:
        query = query.where(model.id == only_id)
    rows = session.execute(query.order_by(model.id).limit(limit * 4 + 8)).all()
    free = [
        (row_id, runner_id)
        for row_id, runner_id, lease in rows
        if runner_id is None or lease is None or lease < now or runner_is_dead_here(runner_id)
    ]
    return free[:limit]


def try_claim(
    session: Session,
    model: Any,
    runnable: Sequence[str],
    row_id: int,
    previous_runner: str | None,
    runner_id: str,
    lease: float,
) -> bool:
    """Take a row whose owner is still ``previous_runner`` (compare-and-set on the row)."""
    now = utcnow()
    conditions = [model.id == row_id, model.status.in_(runnable)]
    if previous_runner is None:
        conditions.append(model.runner_id.is_(None))
    else:
        conditions.append(model.runner_id == previous_runner)
        if not runner_is_dead_here(previous_runner):
            conditions.append(or_(model.lease_expires_at.is_(None), model.lease_expires_at < now))
    result = session.execute(
        update(model)
        .where(*conditions)
        .values(runner_id=runner_id, lease_expires_at=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def extend(session: Session, model: Any, row_id: int, runner_id: str, lease: float, **values: Any) -> bool:
    """Extend our lease (taking the row's lock until commit); False when another runner holds it now."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.runner_id == runner_id)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def release(session: Session, model: Any, row_id: int, runner_id: str) -> None:
    session.execute(
        update(model)
        .where(model.id == row_id, model.runner_id == runner_id)
        .values(runner_id=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


class Execution(Protocol):
    async def run(self) -> None: ...

    def request_stop(self, why: str) -> None: ...


class LeaseRunner(ABC):
    """Claims runnable rows of ``model`` and runs up to ``max_parallel_jobs`` executions at once."""

    model: Any
    runnable: Sequence[str]
    kind: str

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        runner_id: str | None = None,
        only_id: int | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.runner_id = runner_id or make_runner_id()
        self.only_id = only_id
        self.running: dict[int, asyncio.Task[None]] = {}
        self.executions: dict[int, Execution] = {}

    @abstractmethod
    def make_execution(self, row_id: int) -> Execution: ...

    async def on_start(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Work to do once before the first claim."""

    async def run(self, stop: asyncio.Event) -> None:
        await self.on_start()
        while not stop.is_set():
            await self.step()
            if self.only_id is not None and not self.running and await asyncio.to_thread(self._only_done):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_seconds)
        # Shutting down: stop sending, give replies already paid for a moment to arrive and be stored,
        # then cut the rest (their calls are closed as abandoned by whoever runs the row next).
        for execution in self.executions.values():
            execution.request_stop("the runner is shutting down")
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=self.settings.shutdown_grace_seconds)
        for task in self.running.values():
            task.cancel()
        await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def step(self) -> None:
        for row_id, task in list(self.running.items()):
            if task.done():
                del self.running[row_id]
                self.executions.pop(row_id, None)
                if not task.cancelled() and (exc := task.exception()) is not None:
                    logger.error("%s %s stopped with an error: %s", self.kind, row_id, exc, exc_info=exc)
        free = self.settings.max_parallel_jobs - len(self.running)
        if free <= 0:
            return
        try:
            claimed = await asyncio.to_thread(self._claim, free)
        except Exception:
            logger.exception("could not claim %ss", self.kind)
            return
        for row_id in claimed:
            execution = self.make_execution(row_id)
            self.executions[row_id] = execution
            self.running[row_id] = asyncio.create_task(execution.run(), name=f"{self.kind}-{row_id}")
            logger.info("runner %s took %s %s", self.runner_id, self.kind, row_id)

    def _claim(self, free: int) -> list[int]:
        with unit_of_work(self.session_factory) as session:
            candidates = claimable(session, self.model, self.runnable, limit=free, only_id=self.only_id)
        claimed = []
        for row_id, previous in candidates:
            if row_id in self.running:
                continue
            with unit_of_work(self.session_factory) as session:
                lease = self.settings.lease_seconds
                if try_claim(session, self.model, self.runnable, row_id, previous, self.runner_id, lease):
                    claimed.append(row_id)
        return claimed

    def _only_done(self) -> bool:
        with unit_of_work(self.session_factory) as session:
            row = session.get(self.model, self.only_id)
            return row is None or row.status not in self.runnable
