"""A full-size job: 52,000 kept records against a fast fake teacher (0.5 s a call, high concurrency).

Prints wall time, calls per second, and where the service's CPU goes (parse, filters, near-duplicate
check, database), so we know whether the service or the teacher bounds a real run. The fake teacher
runs in its own process; the job runs in this one, on a fresh SQLite file (or --database-url).

    python bench/full_job_bench.py [--target 52000] [--concurrency 64] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
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
from tests.processes import TeacherProcess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=int, default=52_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--records-per-request", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, TeacherProcess("--latency", str(args.latency)) as teacher:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        upgrade_database(url)
        settings = Settings(
            database_url=url, poll_seconds=0.2, OPENAI_BASE_URL=teacher.base_url, OPENAI_API_KEY="x"
        )  # type: ignore[call-arg]
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            sync_builtin_seed_sets(session, settings.seed_dir)
            job = service.create_job(
                session,
                JobCreate(
                    target=args.target,
                    model="fake-teacher",
                    concurrency=args.concurrency,
                    records_per_request=args.records_per_request,
                ),
            )
            job_id = job.id
        runner = Runner(factory, settings, only_job_id=job_id)
        cpu_before = time.process_time()
        started = time.monotonic()
        asyncio.run(runner.run(asyncio.Event()))
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu_before
        with unit_of_work(factory) as session:
            job = service.get_job(session, job_id)
            kept, calls, candidates, status = job.kept, job.requests_sent, job.candidates, job.status
            rejections = dict(job.rejections)
        times = runner.stage_times[job_id]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        engine.dispose()

    print(f"status                 {status}")
    print(f"kept / target          {kept} / {args.target}")
    print(f"teacher calls          {calls} ({candidates} candidates; rejections {rejections})")
    print(f"wall time              {wall:.1f} s")
    print(
        f"calls per second       {calls / wall:.1f}  (teacher bound: {args.concurrency / args.latency:.0f}/s)"
    )
    print(f"kept records / second  {kept / wall:.0f}")
    print(f"service CPU            {cpu:.1f} s ({cpu / wall:.0%} of one core), peak RSS {peak_mb:.0f} MB")
    total = times.parse + times.filters + times.near_duplicates + times.database
    for name, seconds in (
        ("parse", times.parse),
        ("filters", times.filters),
        ("near-duplicate check", times.near_duplicates),
        ("database", times.database),
    ):
        per_call = seconds / max(times.replies, 1) * 1000
        print(f"  {name:<22} {seconds:7.2f} s  {seconds / total:5.1%}  {per_call:6.2f} ms per reply")


if __name__ == "__main__":
    main()
