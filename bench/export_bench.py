"""Export snapshots at 52K records: time to create one, time to stream it over HTTP, and memory.

Records come from ../shared/data/alpaca_like.jsonl when present (else synthetic ones), all approved.
The download goes through the real server; peak memory of the streaming is measured in-process with
tracemalloc, against the size of the file it streams.

    python bench/export_bench.py [--records 52000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from app.db import make_engine, make_session_factory, upgrade_database
from app.export import service
from app.export.schemas import ExportCreate
from app.models import Record
from tests.conftest import LiveServer, make_settings
from tests.factories import make_job
from tests.shared_data import shared_file

SHARED = shared_file("alpaca_like.jsonl")


def load_rows(n: int) -> list[tuple[str, str, str]]:
    if SHARED.exists():
        rows = [json.loads(line) for line in SHARED.open(encoding="utf-8")]
        return [(r["instruction"], r["input"], r["output"]) for r in rows[:n]]
    print("../shared/data is absent: using synthetic records")
    return [(f"Instruction number {i} about topic {i % 977}.", "", f"Output {i} " * 20) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=52_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        upgrade_database(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        rows = load_rows(args.records)
        with factory.begin() as session:
            job = make_job(session)
            session.execute(
                insert(Record),
                [
                    {
                        "job_id": job.id,
                        "status": "kept",
                        "instruction": i,
                        "input": inp,
                        "output": out,
                        "language": "en",
                        "review_status": "approved",
                        "nearest": [],
                    }
                    for i, inp, out in rows
                ],
            )
        for fmt in ("alpaca", "sharegpt", "messages"):
            started = time.perf_counter()
            with factory.begin() as session:
                export = service.create_export(session, ExportCreate(format=fmt, validation_ratio=0.02))
                export_id, sha, count = export.id, export.sha256, export.record_count
            created = time.perf_counter() - started
            with factory() as session:  # warm-up: statement caches and imports are not per-file memory
                next(iter(service.iter_lines(session, export_id, "train")))
            tracemalloc.start()
            with factory() as session:
                size = sum(len(chunk) for chunk in service.iter_lines(session, export_id, "train"))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            with LiveServer(make_settings(url, run_jobs=False)) as server:
                started = time.perf_counter()
                digest = hashlib.sha256()
                with server.client.stream("GET", f"/api/v1/exports/{export_id}.jsonl") as response:
                    for chunk in response.iter_bytes():
                        digest.update(chunk)
                streamed = time.perf_counter() - started
            print(
                f"{fmt:<9} {count:>6} records  create {created:5.2f} s  download {streamed:5.2f} s "
                f"({size / 1e6:5.1f} MB, sha256 {'matches' if digest.hexdigest() == sha else 'DIFFERS'})  "
                f"streaming peak {peak / 1e6:4.1f} MB ({peak / size:.1%} of the file)"
            )
        engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
