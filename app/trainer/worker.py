"""Server mode: claim queued training runs from the Pasture service, train them, report back.

For each claimed run the worker keeps the lease alive with heartbeats (carrying progress), downloads
the export into `{work_dir}/run-{id}/data`, checks its sha256, trains into `{work_dir}/run-{id}/output`
and reports the outcome. A run whose output folder already has a checkpoint (an earlier worker died)
resumes from it; one whose output is already finished (the report was lost) is reported again as is.
A lost lease or a cancellation stops training and reports nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.trainer.artifacts import OutputLayout, read_json, write_json
from app.trainer.client import (
    ClaimedRun,
    ExportInfo,
    LeaseLost,
    ServiceClient,
    ServiceError,
    ServiceUnavailable,
)
from app.trainer.config import TrainConfig
from app.trainer.data import file_sha256
from app.trainer.errors import TrainerError
from app.trainer.reporting import ConsoleReporter, HttpReporter, ProgressReporter
from app.trainer.train import TrainResult, train

logger = logging.getLogger(__name__)

Outcome = Literal["succeeded", "failed", "lease_lost", "cancelled", "abandoned"]


class RunFailed(Exception):
    """A claimed run that cannot succeed; the message is the reason sent to the service."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Worker:
    client: ServiceClient
    work_dir: Path
    lease_seconds: int = 120
    poll_seconds: float = 10.0
    console: ProgressReporter | None = None
    sleep: Callable[[float], None] = time.sleep

    def run(self, once: bool = False) -> int:
        """Claim and train runs until interrupted; with `once`, at most one. Returns an exit code."""
        while True:
            try:
                claimed = self.client.claim(self.lease_seconds)
            except ServiceUnavailable as error:
                self._log(f"cannot claim a run: {error}")
                if once:
                    return 1
                self.sleep(self.poll_seconds)
                continue
            if claimed is None:
                if once:
                    self._log("no queued training run")
                    return 0
                self.sleep(self.poll_seconds)
                continue
            self.process(claimed)
            if once:
                return 0

    def process(self, run: ClaimedRun) -> Outcome:
        """Train one claimed run and report it; returns what happened."""
        self._log(
            f"run {run.id}: claimed (attempt {run.attempt}): {run.method} on {run.base_model}, "
            f"export {run.export_id}"
        )
        heartbeat = HttpReporter(self.client, run.id, self.lease_seconds, echo=self.console).start()
        result: TrainResult | None = None
        failure: str | None = None
        try:
            result = self._execute(run, heartbeat)
        except LeaseLost:
            heartbeat.lease_lost = True
        except ServiceUnavailable as error:
            # The service is gone: reporting would fail too. The lease runs out and the run is requeued.
            self._log(f"run {run.id}: abandoned, the service is unreachable: {error}")
            return "abandoned"
        except (RunFailed, TrainerError, ServiceError) as error:
            failure = str(error)
        except Exception as error:
            logger.exception("run %s failed", run.id)
            failure = f"{type(error).__name__}: {_one_line(error)}"
        finally:
            heartbeat.close()

        if heartbeat.lease_lost:
            self._log(f"run {run.id}: lease lost; stopped without reporting")
            return "lease_lost"
        if heartbeat.cancelled:
            self._log(f"run {run.id}: cancelled by the service; stopped")
            return "cancelled"
        output_dir = self._run_dir(run) / "output"
        if failure is not None or result is None:
            self._log(f"run {run.id}: failed: {failure}")
            return self._complete(run, "failed", failure or "training stopped early", {}, output_dir, [])
        self._log(f"run {run.id}: succeeded")
        return self._complete(run, "succeeded", None, result.metrics, output_dir, result.files)

    def _execute(self, run: ClaimedRun, heartbeat: HttpReporter) -> TrainResult | None:
        run_dir = self._run_dir(run)
        layout = OutputLayout(run_dir / "output", run.method)
        if layout.is_finished():
            self._log(f"run {run.id}: already trained in {layout.root}; reporting it again")
            return TrainResult(
                "succeeded", layout.root, metrics=read_json(layout.metrics_file), files=layout.files()
            )

        if heartbeat.stop.is_set():
            return None
        export = self.client.get_export(run.export_id)
        data_dir = run_dir / "data"
        train_path = self._fetch(
            data_dir / "train.jsonl",
            export.sha256,
            lambda destination: self.client.download_export(export.id, destination),
            "training data",
        )
        _check_record_count(train_path, export)
        validation_path = None
        if export.has_validation and export.validation_sha256 is not None:
            validation_path = self._fetch(
                data_dir / "validation.jsonl",
                export.validation_sha256,
                lambda destination: self.client.download_validation(export.id, destination),
                "validation data",
            )
        manifest_path = data_dir / "export_manifest.json"
        write_json(
            manifest_path,
            {
                "export_id": export.id,
                "sha256": export.sha256,
                "validation_sha256": export.validation_sha256,
                "record_count": export.record_count,
                "validation_count": export.validation_count,
                "manifest": export.manifest,
            },
        )

        resume = layout.latest_checkpoint() is not None
        config = TrainConfig.from_hyperparameters(
            run.hyperparameters,
            data_path=train_path,
            validation_path=validation_path,
            export_manifest_path=manifest_path,
            output_dir=layout.root,
            base_model=run.base_model,
            method=run.method,
            merge=run.merge,
            resume=resume,
            **({"prompt_template": run.prompt_template} if run.prompt_template else {}),
        )
        if resume:
            self._log(f"run {run.id}: found a checkpoint from an earlier attempt; resuming")
        if heartbeat.stop.is_set():
            return None
        result = train(config, reporter=heartbeat, stop=heartbeat.stop)
        return result if result.status == "succeeded" else None

    def _fetch(self, destination: Path, expected: str, download: Callable[[Path], str], what: str) -> Path:
        """Download unless a verified copy is already there (a resumed run); check the sha256."""
        if destination.is_file() and file_sha256(destination) == expected:
            return destination
        actual = download(destination)
        if actual != expected:
            destination.unlink(missing_ok=True)
            raise RunFailed(
                f"{what} failed its sha256 check: the export says {expected}, the download hashes to {actual}"
            )
        return destination

    def _complete(
        self,
        run: ClaimedRun,
        status: Literal["succeeded", "failed"],
        reason: str | None,
        metrics: dict[str, object],
        output_dir: Path,
        files: list[str],
    ) -> Outcome:
        try:
            self.client.complete(
                run.id,
                status=status,
                reason=reason,
                metrics=metrics,
                artifacts={"output_dir": str(output_dir.resolve()), "files": files},
            )
        except LeaseLost:
            self._log(f"run {run.id}: lease lost before the report; the outcome was not recorded")
            return "lease_lost"
        except ServiceError as error:
            self._log(f"run {run.id}: could not report the outcome: {error}")
            return "abandoned"
        return status

    def _run_dir(self, run: ClaimedRun) -> Path:
        return self.work_dir / f"run-{run.id}"

    def _log(self, message: str) -> None:
        (self.console or ConsoleReporter()).on_log(message)


def _check_record_count(path: Path, export: ExportInfo) -> None:
    with path.open("rb") as handle:
        rows = sum(1 for line in handle if line.strip())
    if rows != export.record_count:
        raise RunFailed(
            f"export {export.id} promises {export.record_count} records but its training file has {rows}"
        )


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:2000] if text else type(error).__name__
