"""Sustained token rate under a tokens-per-minute limit, as a fraction of the limit.

A job runs against the fake teacher (1-2 s latency per call, high concurrency) with
``tokens_per_minute`` set. The bucket starts full, so the first seconds burst; the sustained rate is
measured from the teacher's own billing ledger over the window after the warm-up.

    python bench/ratelimit_bench.py [--tpm 40000] [--seconds 90] [--warmup 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings
from app.db import make_engine, make_session_factory, unit_of_work, upgrade_database
from app.generation import service
from app.generation.runner import Runner
from app.generation.schemas import JobCreate
from app.seeds.service import sync_builtin_seed_sets
from tests.fake_teacher import FakeTeacher


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tpm", type=int, default=40_000)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeTeacher(latency=(1.0, 2.0)) as teacher:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade_database(url)
        settings = Settings(
            database_url=url, poll_seconds=0.1, OPENAI_BASE_URL=teacher.base_url, OPENAI_API_KEY="x"
        )  # type: ignore[call-arg]
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            sync_builtin_seed_sets(session, settings.seed_dir)
            job = service.create_job(
                session,
                JobCreate(
                    target=10_000_000,
                    model="fake-teacher",
                    tokens_per_minute=args.tpm,
                    concurrency=args.concurrency,
                    records_per_request=10,
                    max_tokens=1024,
                ),
            )
            job_id = job.id
        runner = Runner(factory, settings, only_job_id=job_id)

        async def run() -> float:
            stop = asyncio.Event()
            task = asyncio.create_task(runner.run(stop))
            started = time.time()
            await asyncio.sleep(args.seconds)
            stop.set()
            await task
            return started

        started = asyncio.run(run())
        entries = [e for e in teacher.ledger() if e["status"] == 200]
        window_start = started + args.warmup
        window_end = started + args.seconds - 2.5  # calls still in flight at the end are cut off
        in_window = [e for e in entries if window_start <= e["ts"] <= window_end]
        tokens = sum(e["prompt_tokens"] + e["completion_tokens"] for e in in_window)
        rate = tokens / (window_end - window_start) * 60
        total = sum(e["prompt_tokens"] + e["completion_tokens"] for e in entries)
        per_call = total / max(len(entries), 1)
        print(f"limit                     {args.tpm} tokens/min")
        print(f"calls                     {len(entries)} ({per_call:.0f} tokens per call, latency 1-2 s)")
        window = f"[{args.warmup:.0f} s, {args.seconds - 2.5:.0f} s]"
        print(f"sustained rate            {rate:,.0f} tokens/min over {window}")
        print(f"fraction of the limit     {rate / args.tpm:.3f}")
        engine.dispose()


if __name__ == "__main__":
    main()
