from __future__ import annotations

import threading

from tests.conftest import LiveServer
from tests.export.test_exports import export, seed
from tests.factories import numbered_texts


def make_export(server: LiveServer, database_url: str, fmt: str = "alpaca") -> int:
    seed(database_url, numbered_texts(20))
    return int(export(server, format=fmt, validation_ratio=0.1)["id"])


def create_run(server: LiveServer, export_id: int, **payload: object) -> dict:
    response = server.client.post(
        "/api/v1/training-runs", json={"export_id": export_id, "base_model": "/models/tiny"} | payload
    )
    assert response.status_code == 201, response.text
    return response.json()


def claim(server: LiveServer, worker: str, lease: int = 60) -> dict | None:
    response = server.client.post(
        "/api/v1/training-runs/claim", json={"worker_id": worker, "lease_seconds": lease}
    )
    assert response.status_code in (200, 204), response.text
    return None if response.status_code == 204 else response.json()["run"]


class TestCreateRun:
    def test_defaults_follow_alpacas_recipe(self, live_server: LiveServer, database_url: str) -> None:
        export_id = make_export(live_server, database_url)
        lora = create_run(live_server, export_id)
        assert lora["status"] == "queued"
        effective = lora["effective_hyperparameters"]
        assert effective["epochs"] == 3 and effective["batch_size"] == 128 and effective["max_length"] == 512
        assert effective["lr_scheduler"] == "cosine" and effective["warmup_ratio"] == 0.03
        assert effective["learning_rate"] == 3e-4
        full = create_run(live_server, export_id, method="full")
        assert full["effective_hyperparameters"]["learning_rate"] == 2e-5
        custom = create_run(live_server, export_id, hyperparameters={"learning_rate": 1e-4, "epochs": 1})
        assert custom["effective_hyperparameters"]["learning_rate"] == 1e-4

    def test_bad_input_names_every_problem(self, live_server: LiveServer, database_url: str) -> None:
        export_id = make_export(live_server, database_url)
        response = live_server.client.post(
            "/api/v1/training-runs",
            json={
                "export_id": export_id,
                "base_model": "m",
                "hyperparameters": {"lr": 1, "output_dir": "/x"},
            },
        )
        assert response.status_code == 422
        assert "hyperparameters.lr: unknown" in response.json()["error"]
        assert "hyperparameters.output_dir" in response.json()["error"]
        missing = live_server.client.post("/api/v1/training-runs", json={"export_id": 999, "base_model": "m"})
        assert missing.status_code == 404
        bad_method = live_server.client.post(
            "/api/v1/training-runs", json={"export_id": export_id, "base_model": "m", "method": "qlora"}
        )
        assert bad_method.status_code == 422 and "method" in bad_method.json()["error"]

    def test_chat_shaped_exports_are_refused_with_a_fix(
        self, live_server: LiveServer, database_url: str
    ) -> None:
        export_id = make_export(live_server, database_url, fmt="sharegpt")
        response = live_server.client.post(
            "/api/v1/training-runs", json={"export_id": export_id, "base_model": "m"}
        )
        assert response.status_code == 422
        assert "alpaca" in response.json()["error"]


class TestWorkerProtocol:
    def test_two_workers_never_take_the_same_run(self, live_server: LiveServer, database_url: str) -> None:
        export_id = make_export(live_server, database_url)
        run_id = create_run(live_server, export_id)["id"]
        results: list[dict | None] = []

        def worker(name: str) -> None:
            results.append(claim(live_server, name))

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        taken = [r for r in results if r is not None]
        assert len(taken) == 1
        assert taken[0]["id"] == run_id
        assert taken[0]["attempt"] == 1

    def test_heartbeats_build_the_loss_curve_and_complete_reports_metrics(
        self, live_server: LiveServer, database_url: str
    ) -> None:
        export_id = make_export(live_server, database_url)
        run_id = create_run(live_server, export_id)["id"]
        assert claim(live_server, "w1") is not None
        for step, loss in enumerate([2.0, 1.5, 1.1], start=1):
            beat = live_server.client.post(
                f"/api/v1/training-runs/{run_id}/heartbeat",
                json={
                    "worker_id": "w1",
                    "progress": {
                        "step": step,
                        "loss": loss,
                        "learning_rate": 1e-4,
                        "tokens_per_second": 900.0,
                        "gpu_memory_mb": 0,
                    },
                },
            )
            assert beat.json() == {"status": "running"}
        done = live_server.client.post(
            f"/api/v1/training-runs/{run_id}/complete",
            json={
                "worker_id": "w1",
                "status": "succeeded",
                "metrics": {"train_loss": 1.1, "eval_loss": 1.3},
                "artifacts": {"output_dir": "/runs/1", "files": ["adapter_model.safetensors"]},
            },
        )
        assert done.status_code == 200, done.text
        detail = live_server.client.get(f"/api/v1/training-runs/{run_id}").json()
        assert detail["status"] == "succeeded"
        assert [p["loss"] for p in detail["curve"]] == [2.0, 1.5, 1.1]
        assert detail["metrics"]["eval_loss"] == 1.3
        assert claim(live_server, "w2") is None

    def test_a_dead_workers_lease_expires_and_the_run_is_taken_again(
        self, live_server: LiveServer, database_url: str
    ) -> None:
        export_id = make_export(live_server, database_url)
        run_id = create_run(live_server, export_id)["id"]
        assert claim(live_server, "dead", lease=10) is not None
        assert claim(live_server, "other") is None
        from app.db import make_engine, make_session_factory
        from app.models import TrainingRun

        engine = make_engine(database_url)
        with make_session_factory(engine).begin() as session:  # let the lease run out
            run = session.get(TrainingRun, run_id)
            assert run is not None and run.lease_expires_at is not None
            run.lease_expires_at = run.lease_expires_at.replace(year=2000)
        engine.dispose()
        again = claim(live_server, "other")
        assert again is not None and again["id"] == run_id and again["attempt"] == 2
        stale = live_server.client.post(
            f"/api/v1/training-runs/{run_id}/heartbeat", json={"worker_id": "dead", "progress": {"step": 9}}
        )
        assert stale.status_code == 409
        assert "lease" in stale.json()["error"]

    def test_cancel_tells_the_worker_to_stop(self, live_server: LiveServer, database_url: str) -> None:
        export_id = make_export(live_server, database_url)
        run_id = create_run(live_server, export_id)["id"]
        claim(live_server, "w1")
        assert (
            live_server.client.post(f"/api/v1/training-runs/{run_id}/cancel").json()["status"] == "cancelled"
        )
        beat = live_server.client.post(f"/api/v1/training-runs/{run_id}/heartbeat", json={"worker_id": "w1"})
        assert beat.json() == {"status": "cancelled"}
