"""The service and the worker as real processes: a queued run goes to succeeded and the service shows its
loss curve."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from app.db import make_engine, make_session_factory
from tests.conftest import LiveServer, make_settings
from tests.factories import make_job, make_records

TOKEN = "worker-token"


def seed_records(database_url: str) -> None:
    rows = [
        (f"Give the capital of country number {i}.", "" if i % 2 else f"Country {i}", f"Capital {i}.")
        for i in range(40)
    ]
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        make_records(session, make_job(session), rows, review_status="approved")
    engine.dispose()


def test_worker_takes_a_queued_run_to_succeeded(
    sqlite_url: str,
    base_model_dir: Path,
    cli_command: tuple[list[str], dict[str, str], Path],
    tmp_path: Path,
) -> None:
    seed_records(sqlite_url)
    with LiveServer(make_settings(sqlite_url, api_token=TOKEN)) as server:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        export = server.client.post(
            "/api/v1/exports", json={"format": "alpaca", "validation_ratio": 0.2}, headers=auth
        ).json()
        run = server.client.post(
            "/api/v1/training-runs",
            json={
                "export_id": export["id"],
                "base_model": str(base_model_dir),
                "method": "lora",
                "hyperparameters": {
                    "max_steps": 6,
                    "batch_size": 4,
                    "micro_batch_size": 2,
                    "learning_rate": 2e-3,
                    "logging_steps": 1,
                },
            },
            headers=auth,
        ).json()
        assert run["status"] == "queued"

        argv, env, cwd = cli_command
        result = subprocess.run(
            [
                *argv,
                "run",
                "--server",
                server.url,
                "--token",
                TOKEN,
                "--once",
                "--work-dir",
                str(tmp_path),
                "--lease-seconds",
                "30",
                "--poll-seconds",
                "0.2",
            ],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]

        detail = server.client.get(f"/api/v1/training-runs/{run['id']}").json()
        assert detail["status"] == "succeeded", detail["status_reason"]
        assert detail["attempt"] == 1
        losses = [p["loss"] for p in detail["curve"] if p["loss"] is not None]
        assert len(losses) >= 2
        assert losses[-1] < losses[0]
        assert detail["metrics"]["train_loss"] > 0
        assert detail["metrics"]["eval_loss"] > 0
        output = Path(detail["artifacts"]["output_dir"])
        manifest = json.loads((output / "data_manifest.json").read_text())
        assert manifest["train"]["sha256"] == export["sha256"]
        assert (output / "adapter" / "adapter_model.safetensors").exists()
        # Nothing left to claim.
        again = server.client.post(
            "/api/v1/training-runs/claim", json={"worker_id": "late", "lease_seconds": 30}, headers=auth
        )
        assert again.status_code == 204
