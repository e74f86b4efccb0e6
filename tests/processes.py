"""Real processes for crash tests: the fake teacher and the Pasture server, each in its own process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TeacherProcess:
    def __init__(self, *args: str) -> None:
        self.args = args

    def __enter__(self) -> TeacherProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_teacher", "--port", "0", *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line.startswith("FAKE_TEACHER_URL="), line
        self.base_url = line.split("=", 1)[1]
        return self

    def ledger(self) -> dict[str, Any]:
        root = self.base_url.rsplit("/v1", 1)[0]
        return dict(httpx2.get(f"{root}/_ledger", timeout=10).json())

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def pasture_env(database_url: str, teacher_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PASTURE_DATABASE_URL=database_url,
        OPENAI_BASE_URL=teacher_url,
        OPENAI_API_KEY="sk-test-key",
        PASTURE_POLL_SECONDS="0.1",
        PASTURE_LEASE_SECONDS="5",
        PASTURE_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class ServerProcess:
    """``pasture serve`` as users run it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
                )
            try:
                if httpx2.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start in 60 s")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
