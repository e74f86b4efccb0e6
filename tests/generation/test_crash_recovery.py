"""SIGKILL at any moment loses nothing and duplicates nothing: the server and the CLI, on both databases."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import select

from app.db import make_engine, make_session_factory
from app.models import Job, Record, TeacherCall
from tests.conftest import wait_for
from tests.processes import ROOT, ServerProcess, TeacherProcess, pasture_env

pytestmark = pytest.mark.slow


def check_database(database_url: str, job_id: int, ledger: dict) -> Job:
    """Exact target, no duplicate, and the job's tokens equal what the teacher billed for applied replies."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        kept = list(session.scalars(select(Record).where(Record.job_id == job_id, Record.status == "kept")))
        calls = {c.id: c for c in session.scalars(select(TeacherCall).where(TeacherCall.job_id == job_id))}
    engine.dispose()
    assert job.kept == job.target == len(kept)
    assert len({r.instruction for r in kept}) == len(kept)
    assert len({(r.call_id, r.position) for r in kept}) == len(kept)
    billed = {e["call_id"]: e for e in ledger["entries"] if e["status"] == 200}
    applied = [c for c in calls.values() if c.status == "applied"]
    for call in applied:
        assert billed[call.id]["prompt_tokens"] == call.prompt_tokens
        assert billed[call.id]["completion_tokens"] == call.completion_tokens
    assert job.prompt_tokens == sum(c.prompt_tokens for c in applied)
    assert job.completion_tokens == sum(c.completion_tokens for c in applied)
    # Every billed reply is accounted for: applied, or abandoned because it was in flight at the kill.
    for call_id in billed:
        assert calls[call_id].status in ("applied", "abandoned")
    abandoned = [c for c in calls.values() if c.status == "abandoned"]
    assert job.requests_abandoned == len(abandoned)
    billed_tokens = sum(e["prompt_tokens"] + e["completion_tokens"] for e in billed.values())
    unrecorded = sum(
        billed[c.id]["prompt_tokens"] + billed[c.id]["completion_tokens"] for c in abandoned if c.id in billed
    )
    assert job.prompt_tokens + job.completion_tokens == billed_tokens - unrecorded
    return job


class TestServerCrash:
    def test_sigkill_mid_job_then_restart_finishes_exactly(self, database_url: str) -> None:
        with TeacherProcess("--latency", "0.1-0.4") as teacher:
            env = pasture_env(database_url, teacher.base_url)
            server = ServerProcess(env).start()
            try:
                body = {"target": 150, "model": "fake-teacher", "records_per_request": 8, "concurrency": 6}
                job_id = httpx2.post(f"{server.url}/api/v1/jobs", json=body, timeout=10).json()["id"]
                for kill_at in (30, 90):  # kill it twice, at different points of the job

                    def kept_at_least(url: str = server.url, n: int = kill_at) -> bool:
                        return int(httpx2.get(f"{url}/api/v1/jobs/{job_id}").json()["kept"]) >= n

                    wait_for(kept_at_least, timeout=60)
                    server.kill()
                    server = ServerProcess(env).start()
                final_url = server.url
                wait_for(
                    lambda: httpx2.get(f"{final_url}/api/v1/jobs/{job_id}").json()["status"] == "succeeded",
                    timeout=90,
                )
            finally:
                server.stop()
            job = check_database(database_url, job_id, teacher.ledger())
            assert job.requests_abandoned >= 1


class TestCliGenerate:
    def run_generate(
        self, out: Path, teacher_url: str, target: int, *extra: str, **env_extra: str
    ) -> subprocess.CompletedProcess:
        env = pasture_env("sqlite:///unused.db", teacher_url, **env_extra)
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "generate",
                "--target",
                str(target),
                "--out",
                str(out),
                "--model",
                "fake-teacher",
                "--quiet",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_generate_writes_the_target_and_resumes_to_a_larger_one(self, tmp_path: Path) -> None:
        out = tmp_path / "data.jsonl"
        with TeacherProcess() as teacher:
            first = self.run_generate(out, teacher.base_url, 30)
            assert first.returncode == 0, first.stderr
            assert len(out.read_text().splitlines()) == 30
            second = self.run_generate(out, teacher.base_url, 45)
            assert second.returncode == 0, second.stderr
            rows = [json.loads(line) for line in out.read_text().splitlines()]
            assert len(rows) == 45
            assert len({r["instruction"] for r in rows}) == 45
            assert "resuming job" in second.stderr

    def test_generate_killed_then_rerun_meets_the_target_exactly(self, tmp_path: Path) -> None:
        out = tmp_path / "data.jsonl"
        with TeacherProcess("--latency", "0.1-0.3") as teacher:
            env = pasture_env("sqlite:///unused.db", teacher.base_url)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "generate",
                    "--target",
                    "200",
                    "--out",
                    str(out),
                    "--model",
                    "fake-teacher",
                    "--quiet",
                    "--concurrency",
                    "6",
                    "--records-per-request",
                    "8",
                ],
                cwd=ROOT,
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            database_url = f"sqlite:///{out}.pasture.db"

            def kept_so_far() -> bool:
                try:
                    engine = make_engine(database_url)
                    with make_session_factory(engine)() as session:
                        job = session.scalars(select(Job)).first()
                        return job is not None and job.kept >= 40
                except Exception:
                    return False

            wait_for(kept_so_far, timeout=60, interval=0.2)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(0.2)
            rerun = self.run_generate(
                out, teacher.base_url, 200, "--concurrency", "6", "--records-per-request", "8"
            )
            assert rerun.returncode == 0, rerun.stderr
            rows = [json.loads(line) for line in out.read_text().splitlines()]
            assert len(rows) == 200
            assert len({r["instruction"] for r in rows}) == 200
            engine = make_engine(database_url)
            with make_session_factory(engine)() as session:
                job_id = session.scalars(select(Job.id)).one()
            check_database(database_url, job_id, teacher.ledger())

    def test_unreachable_teacher_exits_nonzero_with_one_line(self, tmp_path: Path) -> None:
        result = self.run_generate(
            tmp_path / "x.jsonl",
            "http://127.0.0.1:9/v1",
            5,
            PASTURE_TEACHER_MAX_ATTEMPTS="2",
            PASTURE_TEACHER_BACKOFF_MAX="0.2",
        )
        assert result.returncode == 1
        assert "unreachable" in result.stderr.strip().splitlines()[-1]
