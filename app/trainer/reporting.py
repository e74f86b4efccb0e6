"""Progress reporting: the `ProgressReporter` interface and its console and HTTP implementations.

The training loop calls `on_progress` at every logging step (with `loss`) and after every evaluation
(with `eval_loss`), and `on_log` for notable events (resuming, saving). Only the main process of a
distributed run reports.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, Protocol, TextIO, TypedDict

from app.trainer.client import LeaseLost, RetryPolicy, ServiceClient, ServiceError

logger = logging.getLogger(__name__)


class Progress(TypedDict):
    step: int
    total_steps: int
    epoch: float
    loss: float | None
    eval_loss: float | None
    learning_rate: float | None
    tokens_per_second: float | None
    eta_seconds: float | None
    gpu_memory_mb: float | None


class ProgressReporter(Protocol):
    def on_progress(self, progress: Progress) -> None: ...

    def on_log(self, message: str) -> None: ...


class ConsoleReporter:
    """One line per logging step, for `pasture-worker train`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def on_progress(self, progress: Progress) -> None:
        if progress["loss"] is None and progress["eval_loss"] is not None:
            self.on_log(f"step {progress['step']}: validation loss {progress['eval_loss']:.4f}")
            return
        parts = [f"step {progress['step']}/{progress['total_steps']}", f"epoch {progress['epoch']:.2f}"]
        if progress["loss"] is not None:
            parts.append(f"loss {progress['loss']:.4f}")
        if progress["learning_rate"] is not None:
            parts.append(f"lr {progress['learning_rate']:.2e}")
        if progress["tokens_per_second"] is not None:
            parts.append(f"{progress['tokens_per_second']:,.0f} tok/s")
        if progress["eta_seconds"] is not None:
            parts.append(f"eta {_duration(progress['eta_seconds'])}")
        if progress["gpu_memory_mb"] is not None:
            parts.append(f"gpu {progress['gpu_memory_mb']:,.0f} MB")
        self.on_log(" | ".join(parts))

    def on_log(self, message: str) -> None:
        print(f"[pasture] {message}", file=self.stream, flush=True)


class HttpReporter:
    """Keeps a claimed run's lease alive and sends its progress to the service, from a background thread.

    Each progress point is sent once, in the next heartbeat, which goes out soon after the point
    arrives (at most one every `min_gap` seconds; of points in between the newest wins, and the loss and
    validation loss of one step are merged).
    Without news a heartbeat goes out every `interval` seconds with empty progress, whatever the
    training loop is doing (loading a model, evaluating, saving). `start` sends the first heartbeat
    before returning; `close` sends any point not yet sent. A transient failure is logged and the next
    beat tries again; a 409 sets `lease_lost`, an answer other than "running" sets `cancelled`, and both
    set `stop`, which the training loop checks after every step.
    """

    def __init__(
        self,
        client: ServiceClient,
        run_id: int,
        lease_seconds: int,
        echo: ProgressReporter | None = None,
        min_gap: float = 2.0,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.lease_seconds = lease_seconds
        self.interval = max(1.0, lease_seconds / 3)
        self.min_gap = min(min_gap, self.interval)
        self.echo = echo
        self.stop = threading.Event()
        self.lease_lost = False
        self.cancelled = False
        self._unsent: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._beat_until_closed, name=f"heartbeat-run-{run_id}", daemon=True
        )
        # One quick retry inside a beat; the next beat is the real retry.
        self._retry = RetryPolicy(
            attempts=2, initial_delay=min(1.0, self.interval / 4), max_delay=self.interval
        )

    def start(self) -> HttpReporter:
        """Confirm the lease with a first heartbeat, then keep beating in the background."""
        self.beat()
        if not self.stop.is_set():
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the background beats and send the last progress point if it is still unsent."""
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.client.timeout * 2 + self.interval)
        if self._unsent is not None and not self.stop.is_set():
            self.beat()

    def on_progress(self, progress: Progress) -> None:
        self._queue(dict(progress))
        if self.echo:
            self.echo.on_progress(progress)

    def on_log(self, message: str) -> None:
        if self.echo:
            self.echo.on_log(message)

    def beat(self) -> None:
        """Send one heartbeat now, with the progress point not sent yet, if any."""
        with self._lock:
            progress, self._unsent = self._unsent or {}, None
        try:
            status = self.client.heartbeat(self.run_id, progress, self.lease_seconds, retry=self._retry)
        except LeaseLost:
            logger.warning("run %s: lease lost, stopping without reporting", self.run_id)
            self.lease_lost = True
            self.stop.set()
            return
        except ServiceError as error:
            logger.warning("run %s: heartbeat failed, training goes on: %s", self.run_id, error)
            with self._lock:  # the point goes out with the next beat unless a newer one replaced it
                self._unsent = self._unsent or progress or None
            return
        if status != "running":
            logger.warning("run %s: the service says %r, stopping", self.run_id, status)
            self.cancelled = True
            self.stop.set()

    def _queue(self, progress: dict[str, Any]) -> None:
        with self._lock:
            unsent = self._unsent
            if unsent is not None and "step" in unsent and unsent["step"] == progress.get("step"):
                # The training loss and the evaluation of one step travel together.
                progress = {**unsent, **{key: value for key, value in progress.items() if value is not None}}
            self._unsent = progress
        self._wake.set()

    def _beat_until_closed(self) -> None:
        while not self.stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._closed.is_set():
                return
            self.beat()
            if self._closed.wait(self.min_gap):
                return


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
