"""Server time of the dashboard's records page at Alpaca's size (52K records), on SQLite and PostgreSQL.

Loads 52,002 records (the Alpaca 52K from ../shared/data/alpaca_like.jsonl when it is there, otherwise
synthetic ones of the same shape), with ten stored neighbours each, into a fresh database migrated to head,
then measures:

- the query behind each page (``app.records.service.list_records`` with the page's capped count), and
- the whole page as served (``GET /records?...`` through the real application under uvicorn; the server's
  own time comes from its ``Server-Timing`` header).

The reference in the same run is the search without its trigram index (a plain LIKE/ILIKE scan over the
three text columns) and the exact count. The budget is 100 ms of server time per page.

    python bench/records_page_bench.py [--backend sqlite|postgresql|both] [--records 52002] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
import uvicorn
from sqlalchemy import create_engine, func, insert, or_, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, make_session_factory, upgrade_database
from app.main import create_app
from app.models import Job, Record, SeedSet, TeacherCall
from app.pagination import encode_cursor
from app.records.service import RecordFilter, count_records, list_records
from tests.shared_data import shared_file

ALPACA = Path(os.environ.get("PASTURE_BENCH_DATA", shared_file("alpaca_like.jsonl")))
PG_ADMIN_URL = os.environ.get("PASTURE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BUDGET_MS = 100.0
PAGE = 50
SEARCH_COUNT_LIMIT = 1_000  # what the page uses (app.review.pages.SEARCH_COUNT_LIMIT)
REASONS = (
    "near_duplicate", "near_duplicate", "near_duplicate", "too_short", "blacklisted_word", "refusal",
    "unparsable", "wrong_language", "target_reached",
)  # fmt: skip
WORDS = (
    "write", "describe", "explain", "list", "generate", "water", "cycle", "story", "poem", "summary", "data",
    "photosynthesis", "climate", "market", "recipe", "history", "science", "travel", "budget", "garden",
)  # fmt: skip


def load_texts(n: int) -> tuple[list[dict[str, str]], str]:
    if ALPACA.exists():
        rows = []
        with ALPACA.open(encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)
                rows.append({k: item.get(k) or "" for k in ("instruction", "input", "output")})
                if len(rows) == n:
                    break
        if len(rows) >= n:
            return rows, f"{ALPACA} (Alpaca 52K)"
        print(f"note: {ALPACA} has only {len(rows)} records; padding with synthetic ones")
    else:
        print(f"note: {ALPACA} is not there; using synthetic records of Alpaca's shape")
        rows = []
    rng = random.Random(0)
    while len(rows) < n:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
        with_input = rng.random() < 0.4
        rows.append(
            {
                "instruction": " ".join(words).capitalize() + ".",
                "input": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) if with_input else "",
                "output": " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 120))),
            }
        )
    return rows, "synthetic"


def populate(url: str, rows: list[dict[str, str]]) -> int:
    """Two jobs, a teacher call per 20 records, and the records; returns the first job's id."""
    engine = make_engine(url)
    rng = random.Random(42)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(engine) as session:
        seed_set = SeedSet(name="bench", language="en", sha256="0" * 64, task_count=0)
        session.add(seed_set)
        session.flush()
        jobs = [
            Job(target=40_000, model="bench", seed_set_id=seed_set.id, status="succeeded", name="bench-a"),
            Job(target=20_000, model="bench", seed_set_id=seed_set.id, status="succeeded", name="bench-b"),
        ]
        session.add_all(jobs)
        session.flush()
        split = int(len(rows) * 0.75)
        calls = []
        for i in range(0, len(rows), 20):
            job_id = jobs[0].id if i < split else jobs[1].id
            at = start + timedelta(seconds=i)
            calls.append(
                {
                    "job_id": job_id, "status": "applied", "model": "bench", "api": "chat",
                    "prompt": "bench prompt", "examples": [], "raw_reply": "bench reply", "created_at": at,
                    "completed_at": at,
                }
            )  # fmt: skip
        session.execute(insert(TeacherCall), calls)
        call_ids = list(session.scalars(select(TeacherCall.id).order_by(TeacherCall.id)))
        batch: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            kept = rng.random() < 0.8
            similarity = min(rng.betavariate(2, 5) if kept else rng.betavariate(5, 2), 1.0)
            neighbours = [
                {"kind": "record", "id": max(1, i - k), "instruction": rows[max(0, i - k)]["instruction"],
                 "score": round(similarity * (1 - k / 20), 4)}
                for k in range(1, 11)
            ]  # fmt: skip
            review = rng.choices(("pending", "approved", "rejected"), (6, 3, 1))[0] if kept else "pending"
            batch.append({
                "job_id": jobs[0].id if i < split else jobs[1].id,
                "call_id": call_ids[i // 20], "position": i % 20,
                "status": "kept" if kept else "rejected",
                "reason": None if kept else rng.choice(REASONS),
                "instruction": row["instruction"], "input": row["input"], "output": row["output"],
                "language": "en", "review_status": review,
                "max_similarity": similarity, "mean_similarity": similarity * 0.8, "nearest": neighbours,
                "created_at": start + timedelta(seconds=i), "updated_at": start + timedelta(seconds=i),
            })  # fmt: skip
            if len(batch) == 2000:
                session.execute(insert(Record), batch)
                batch = []
        if batch:
            session.execute(insert(Record), batch)
        session.commit()
        first_job = jobs[0].id
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does shortly after a bulk load
    engine.dispose()
    return first_job


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    for _ in range(2):
        result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return (
        statistics.median(samples),
        samples[int(len(samples) * 0.95) - 1 if len(samples) > 1 else 0],
        result,
    )


def like_scan(session: Session, q: str, f: RecordFilter) -> int:
    """The reference: the same search as an unindexed LIKE/ILIKE scan, counted exactly."""
    pattern = f"%{q}%"
    query = select(func.count(Record.id)).where(
        or_(Record.instruction.ilike(pattern), Record.input.ilike(pattern), Record.output.ilike(pattern))
    )
    if f.job_id is not None:
        query = query.where(Record.job_id == f.job_id)
    if f.has_input is not None:
        query = query.where(Record.input != "")
    return session.scalar(query) or 0


@contextmanager
def serve(url: str) -> Iterator[str]:
    settings = Settings(database_url=url, run_jobs=False, log_level="WARNING")  # type: ignore[call-arg]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings, migrate=False), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def bench_backend(
    name: str, url: str, rows: list[dict[str, str]], repeat: int
) -> list[tuple[str, float, float]]:
    started = time.perf_counter()
    upgrade_database(url)
    job_id = populate(url, rows)
    print(f"\n== {name}: {len(rows):,} records loaded in {time.perf_counter() - started:.1f}s")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        kept_ids = list(
            session.scalars(select(Record.id).where(Record.status == "kept").order_by(Record.id.desc()))
        )
    deep_cursor = (
        encode_cursor(kept_ids[40_000]) if len(kept_ids) > 40_000 else encode_cursor(kept_ids[-PAGE])
    )
    kept_newest = {"order": "desc"}
    scenarios: list[tuple[str, RecordFilter, dict[str, Any], str]] = [
        ("first page (kept, newest)", RecordFilter(status="kept"), kept_newest, ""),
        ("deep cursor page (40,000 in)", RecordFilter(status="kept"), {**kept_newest, "cursor": deep_cursor},
         f"cursor={deep_cursor}"),
        ("all records, newest", RecordFilter(), kept_newest, "status=any"),
        ("job + with input + search 'water'",
         RecordFilter(job_id=job_id, status="kept", has_input=True, q="water"), kept_newest,
         f"job_id={job_id}&has_input=yes&q=water"),
        ("search 'the' (common)", RecordFilter(status="kept", q="the"), kept_newest, "q=the"),
        ("search 'photosynthesis' (rare)", RecordFilter(status="kept", q="photosynthesis"), kept_newest,
         "q=photosynthesis"),
        ("search 'ai' (2 chars, scan)", RecordFilter(status="kept", q="ai"), kept_newest, "q=ai"),
        ("review queue (job, pending)", RecordFilter(job_id=job_id, status="kept", review_status="pending"),
         {"order": "asc"}, f"job_id={job_id}&review_status=pending&sort=oldest"),
        ("rejected near-duplicates", RecordFilter(status="rejected", reason="near_duplicate"), kept_newest,
         "status=rejected&reason=near_duplicate"),
        ("ROUGE-L 0.30-0.40", RecordFilter(status="kept", min_similarity=0.3, max_similarity=0.4),
         kept_newest, "min_similarity=0.3&max_similarity=0.4"),
        ("most similar first", RecordFilter(status="kept"), {**kept_newest, "sort": "similarity"},
         "sort=most_similar"),
    ]  # fmt: skip
    print(f"{'query (list_records + count, as the page)':<40} {'median':>8} {'p95':>8} {'total':>8}")
    results = []
    with factory() as session:
        for label, f, options, _ in scenarios:

            def page(f: RecordFilter = f, options: dict[str, Any] = options) -> Any:
                count_limit = SEARCH_COUNT_LIMIT if f.q else None
                return list_records(session, f, limit=PAGE, count_limit=count_limit, **options)

            median, p95, (_, total, _) = timed(page, repeat)
            print(f"{label:<40} {median:8.1f} {p95:8.1f} {total:8,}")
        print("reference (same run):")
        for label, f in [("search 'water' as LIKE scan, exact count", scenarios[3][1]),
                         ("search 'the' as LIKE scan, exact count", scenarios[4][1])]:  # fmt: skip
            q = f.q or ""
            median, p95, total = timed(lambda q=q, f=f: like_scan(session, q, f), max(3, repeat // 3))
            print(f"{label:<40} {median:8.1f} {p95:8.1f} {total:8,}")
        median, p95, total = timed(lambda: count_records(session, RecordFilter()), repeat)
        print(f"{'exact count of every record':<40} {median:8.1f} {p95:8.1f} {total:8,}")
    engine.dispose()

    print(f"{'page GET /records?... (server time)':<40} {'median':>8} {'p95':>8} {'wall':>8}")
    with serve(url) as base, httpx2.Client(base_url=base, timeout=60) as client:
        for label, _, _, query in scenarios:

            def fetch(query: str = query) -> float:
                response = client.get(f"/records?{query}")
                response.raise_for_status()
                timing = dict(
                    part.strip().split(";dur=") for part in response.headers["server-timing"].split(",")
                )
                return float(timing["total"])

            fetch()
            server_ms = []
            wall_ms = []
            for _ in range(repeat):
                started = time.perf_counter()
                server_ms.append(fetch())
                wall_ms.append((time.perf_counter() - started) * 1000)
            server_ms.sort()
            median = statistics.median(server_ms)
            p95 = server_ms[int(len(server_ms) * 0.95) - 1]
            results.append((label, median, p95))
            flag = "" if p95 < BUDGET_MS else "  OVER BUDGET"
            print(f"{label:<40} {median:8.1f} {p95:8.1f} {statistics.median(wall_ms):8.1f}{flag}")
    return results


def postgres_url() -> tuple[str, Callable[[], None]] | None:
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"pasture_bench_{uuid.uuid4().hex[:8]}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"\n== postgresql: skipped, {PG_ADMIN_URL} is not reachable ({exc.__class__.__name__})")
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--records", type=int, default=52_002)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    rows, source = load_texts(args.records)
    print(f"records: {len(rows):,} from {source}; budget {BUDGET_MS:.0f} ms server time per page (p95)")
    worst: list[tuple[str, str, float]] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            for label, _, p95 in bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", rows, args.repeat):
                worst.append(("sqlite", label, p95))
    if args.backend in ("postgresql", "both") and (pg := postgres_url()) is not None:
        url, drop = pg
        try:
            for label, _, p95 in bench_backend("postgresql", url, rows, args.repeat):
                worst.append(("postgresql", label, p95))
        finally:
            drop()
    over = [w for w in worst if w[2] >= BUDGET_MS]
    slowest = max(worst, key=lambda w: w[2]) if worst else None
    if slowest:
        where, label, p95 = slowest
        print(f"\nslowest page: {where} / {label}: p95 {p95:.1f} ms (budget {BUDGET_MS:.0f} ms)")
    print("within budget" if not over else f"{len(over)} page(s) over budget")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
