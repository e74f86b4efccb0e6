"""Contract tests: the worker's client against a stub of the Pasture service's training-run API.

The stub below implements the REST contract documented in app/trainer/client.py and nothing more. It
checks that the worker speaks the contract; an end-to-end test against the real service belongs beside
the service's own training-run endpoints.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.trainer.cli import main
from app.trainer.client import RetryPolicy, ServiceClient, ServiceError, ServiceUnavailable
from app.trainer.worker import Worker

TOKEN = "s3cret"
FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.05)


def _jsonl(rows: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


@dataclass
class ServiceStub:
    """The training-run API in memory: one export, a queue of runs, and a log of what the worker sent."""

    train_bytes: bytes
    validation_bytes: bytes | None = None
    export_sha256: str | None = None  # None: the true hash of train_bytes
    queue: list[dict[str, Any]] = field(default_factory=list)
    heartbeat_reply: tuple[int, dict[str, Any]] = (200, {"status": "running"})
    claim_failures: int = 0  # answer 503 this many times first
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, auth
    claims: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def export(self) -> dict[str, Any]:
        return {
            "id": 7,
            "sha256": self.export_sha256 or hashlib.sha256(self.train_bytes).hexdigest(),
            "validation_sha256": (
                hashlib.sha256(self.validation_bytes).hexdigest() if self.validation_bytes else None
            ),
            "record_count": self.train_bytes.count(b"\n"),
            "validation_count": self.validation_bytes.count(b"\n") if self.validation_bytes else 0,
            "manifest": {"format": "alpaca", "filters": {"min_rouge_l": 0.7}},
        }

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/api/v1/training-runs/claim":
            if self.claim_failures:
                self.claim_failures -= 1
                return 503, {"error": "database restarting"}
            self.claims.append(body)
            return (200, {"run": self.queue.pop(0)}) if self.queue else (204, None)
        if method == "GET" and path == "/api/v1/exports/7":
            return 200, self.export()
        if method == "GET" and path == "/api/v1/exports/7.jsonl":
            return 200, self.train_bytes
        if method == "GET" and path == "/api/v1/exports/7/validation.jsonl" and self.validation_bytes:
            return 200, self.validation_bytes
        if method == "POST" and (match := re.fullmatch(r"/api/v1/training-runs/(\d+)/heartbeat", path)):
            self.heartbeats.append({"run_id": int(match.group(1)), **body})
            return self.heartbeat_reply
        if method == "POST" and (match := re.fullmatch(r"/api/v1/training-runs/(\d+)/complete", path)):
            self.completions.append({"run_id": int(match.group(1)), **body})
            return 200, {"status": body["status"]}
        return 404, {"error": "not found", "detail": f"{method} {path}"}


def _handler(stub: ServiceStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            auth = self.headers.get("Authorization")
            stub.requests.append((method, self.path, auth))
            if auth != f"Bearer {TOKEN}":
                status, reply = 401, {"error": "unauthorized", "detail": "bad token"}
            else:
                status, reply = stub.handle(method, self.path, body)
            self.send_response(status)
            if reply is None:
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode("utf-8")
            self.send_header(
                "Content-Type", "application/json" if not isinstance(reply, bytes) else "text/plain"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stub(records: list[dict[str, str]]) -> Iterator[ServiceStub]:
    service = ServiceStub(train_bytes=_jsonl(records), validation_bytes=_jsonl(records[:4]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()


def _run(base_model_dir: Path, run_id: int = 1, attempt: int = 1, **hyperparameters: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "export_id": 7,
        "base_model": str(base_model_dir),
        "method": "lora",
        "hyperparameters": {
            "max_steps": 3,
            "batch_size": 8,
            "micro_batch_size": 4,
            "logging_steps": 1,
            "learning_rate": 1e-3,
            **hyperparameters,
        },
        "prompt_template": "alpaca",
        "merge": False,
        "attempt": attempt,
    }


def _worker(stub: ServiceStub, work_dir: Path, token: str = TOKEN) -> Worker:
    client = ServiceClient(stub.url, worker_id="gpu-box-1", token=token, timeout=10, retry=FAST_RETRY)
    return Worker(client, work_dir=work_dir, lease_seconds=3, poll_seconds=0.01)


class TestTrainingRunContract:
    def test_claims_downloads_trains_heartbeats_and_reports_success(
        self, stub: ServiceStub, base_model_dir: Path, tmp_path: Path
    ) -> None:
        stub.queue.append(_run(base_model_dir))

        assert _worker(stub, tmp_path).run(once=True) == 0

        assert stub.claims == [{"worker_id": "gpu-box-1", "lease_seconds": 3}]
        assert {(beat["worker_id"], beat["lease_seconds"]) for beat in stub.heartbeats} == {("gpu-box-1", 3)}
        points = [beat["progress"] for beat in stub.heartbeats if beat["progress"]]
        steps = [point["step"] for point in points if point.get("loss") is not None]
        assert steps == sorted(set(steps)) and steps[-1] == 3, "each point is sent once, the last one too"
        final = points[-1]
        assert (final["step"], final["total_steps"]) == (3, 3)
        assert final["loss"] > 0 and final["eval_loss"] > 0
        assert set(final) >= {"epoch", "learning_rate", "tokens_per_second", "eta_seconds", "gpu_memory_mb"}
        assert all(auth == f"Bearer {TOKEN}" for _, _, auth in stub.requests)
        fetched = [path for method, path, _ in stub.requests if method == "GET"]
        assert fetched == [
            "/api/v1/exports/7",
            "/api/v1/exports/7.jsonl",
            "/api/v1/exports/7/validation.jsonl",
        ]

        [completion] = stub.completions
        assert (completion["run_id"], completion["status"], completion["reason"]) == (1, "succeeded", None)
        assert completion["metrics"]["global_step"] == 3
        assert completion["metrics"]["train_loss"] > 0 and completion["metrics"]["eval_loss"] > 0
        output_dir = Path(completion["artifacts"]["output_dir"])
        assert output_dir == (tmp_path / "run-1" / "output").resolve()
        assert "adapter/adapter_model.safetensors" in completion["artifacts"]["files"]
        assert "data_manifest.json" in completion["artifacts"]["files"]
        manifest = json.loads((output_dir / "data_manifest.json").read_text(encoding="utf-8"))
        assert manifest["train"]["sha256"] == stub.export()["sha256"]
        assert manifest["export_manifest"]["manifest"] == stub.export()["manifest"]

    def test_a_sha256_mismatch_fails_the_run_with_a_readable_reason(
        self, stub: ServiceStub, base_model_dir: Path, tmp_path: Path
    ) -> None:
        stub.export_sha256 = "0" * 64
        stub.queue.append(_run(base_model_dir))

        assert _worker(stub, tmp_path).run(once=True) == 0

        [completion] = stub.completions
        assert completion["status"] == "failed"
        actual = hashlib.sha256(stub.train_bytes).hexdigest()
        assert completion["reason"] == (
            f"training data failed its sha256 check: the export says {'0' * 64}, "
            f"the download hashes to {actual}"
        )
        assert not (tmp_path / "run-1" / "data" / "train.jsonl").exists(), "a corrupt download is not kept"
        assert not (tmp_path / "run-1" / "output").exists()

    def test_invalid_hyperparameters_fail_the_run_with_every_problem(
        self, stub: ServiceStub, base_model_dir: Path, tmp_path: Path
    ) -> None:
        stub.queue.append(_run(base_model_dir, epochs=-1, warmup_steps=10, output_dir="/tmp/elsewhere"))

        _worker(stub, tmp_path).run(once=True)

        [completion] = stub.completions
        assert completion["status"] == "failed"
        for problem in (
            "may not set 'output_dir'",
            "unknown field 'warmup_steps'",
            "epochs must be positive",
        ):
            assert problem in completion["reason"]

    @pytest.mark.parametrize(
        ("reply", "outcome"),
        [((409, {"error": "lease lost"}), "lease_lost"), ((200, {"status": "cancelled"}), "cancelled")],
    )
    def test_a_lost_lease_or_a_cancellation_stops_without_reporting(
        self,
        stub: ServiceStub,
        base_model_dir: Path,
        tmp_path: Path,
        reply: tuple[int, dict[str, Any]],
        outcome: str,
    ) -> None:
        stub.heartbeat_reply = reply
        worker = _worker(stub, tmp_path)
        stub.queue.append(_run(base_model_dir))
        claimed = worker.client.claim(3)
        assert claimed is not None

        assert worker.process(claimed) == outcome

        assert stub.completions == []
        assert not (tmp_path / "run-1" / "output" / "metrics.json").exists()

    def test_failing_heartbeats_do_not_stop_training(
        self, stub: ServiceStub, base_model_dir: Path, tmp_path: Path
    ) -> None:
        stub.heartbeat_reply = (503, {"error": "overloaded"})
        stub.queue.append(_run(base_model_dir))

        _worker(stub, tmp_path).run(once=True)

        assert [completion["status"] for completion in stub.completions] == ["succeeded"]

    def test_a_run_left_by_a_dead_worker_resumes_from_its_checkpoint(
        self, stub: ServiceStub, base_model_dir: Path, tmp_path: Path
    ) -> None:
        stub.queue.append(_run(base_model_dir, max_steps=4, save_steps=2, keep_checkpoints=True))
        _worker(stub, tmp_path).run(once=True)
        # Make the first attempt look like a worker that died after checkpoint-2.
        output = tmp_path / "run-1" / "output"
        (output / "metrics.json").unlink()
        shutil.rmtree(output / "adapter")
        shutil.rmtree(output / "checkpoints" / "checkpoint-4")

        stub.queue.append(_run(base_model_dir, attempt=2, max_steps=4, save_steps=2, keep_checkpoints=True))
        _worker(stub, tmp_path).run(once=True)

        second = stub.completions[1]
        assert second["status"] == "succeeded"
        assert (second["metrics"]["resumed_from_step"], second["metrics"]["global_step"]) == (2, 4)
        downloads = [path for method, path, _ in stub.requests if path == "/api/v1/exports/7.jsonl"]
        assert len(downloads) == 1, "the verified download of the first attempt is reused"

    def test_a_finished_run_whose_report_was_lost_is_reported_again_without_training(
        self, stub: ServiceStub, base_model_dir: Path, tmp_path: Path
    ) -> None:
        stub.queue.extend([_run(base_model_dir), _run(base_model_dir, attempt=2)])
        _worker(stub, tmp_path).run(once=True)
        _worker(stub, tmp_path).run(once=True)

        first, second = stub.completions
        assert second["status"] == "succeeded"
        assert second["metrics"] == first["metrics"]


class TestServiceClient:
    def test_retries_transient_failures(self, stub: ServiceStub) -> None:
        stub.claim_failures = 2
        client = ServiceClient(stub.url, worker_id="w", token=TOKEN, retry=FAST_RETRY)
        assert client.claim(60) is None
        assert [path for _, path, _ in stub.requests].count("/api/v1/training-runs/claim") == 3

    def test_gives_up_after_the_last_attempt(self, stub: ServiceStub) -> None:
        stub.claim_failures = 5
        client = ServiceClient(stub.url, worker_id="w", token=TOKEN, retry=FAST_RETRY)
        with pytest.raises(ServiceUnavailable, match=r"after 3 attempts.*HTTP 503: database restarting"):
            client.claim(60)

    def test_an_unreachable_service_is_unavailable_not_a_crash(self, tmp_path: Path) -> None:
        client = ServiceClient("http://127.0.0.1:9", worker_id="w", retry=FAST_RETRY)
        assert Worker(client, work_dir=tmp_path, poll_seconds=0.01).run(once=True) == 1

    def test_a_rejected_token_is_a_readable_error(self, stub: ServiceStub) -> None:
        client = ServiceClient(stub.url, worker_id="w", token="wrong", retry=FAST_RETRY)
        with pytest.raises(ServiceError, match=r"refused the token \(HTTP 401\): unauthorized - bad token"):
            client.claim(60)


class TestRunCommand:
    def test_once_with_an_empty_queue_exits_cleanly(self, stub: ServiceStub, tmp_path: Path) -> None:
        code = main(["run", "--server", stub.url, "--token", TOKEN, "--work-dir", str(tmp_path), "--once"])
        assert code == 0
        assert stub.claims and stub.claims[0]["lease_seconds"] == 120

    def test_a_bad_server_url_is_one_line_and_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["run", "--server", "ftp://example.org", "--once"]) == 2
        error = capsys.readouterr().err.strip()
        assert error == (
            "pasture-worker run: error: server URL must start with http:// or https://, not 'ftp://example.org'"
        )
