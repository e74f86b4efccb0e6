"""The ``pasture`` command: serve, migrate, runner, generate, dedupe."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from app.config import Settings, get_settings
from app.errors import AppError


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)


def _settings(**overrides: Any) -> Settings:
    base = get_settings()
    return base.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = _settings(host=args.host, port=args.port)
    _configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower()
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.db import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url, args.revision)
    print(f"database at {_redact(settings.database_url)} is at revision {args.revision}")
    return 0


def cmd_runner(args: argparse.Namespace) -> int:
    from app.db import make_engine, make_session_factory
    from app.evaluation.runner import EvaluationRunner
    from app.generation.runner import Runner

    settings = _settings()
    _configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(
            Runner(factory, settings).run(stop), EvaluationRunner(factory, settings).run(stop)
        )

    asyncio.run(main())
    return 0


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


def cmd_generate(args: argparse.Namespace) -> int:
    from app.db import make_engine, make_session_factory, unit_of_work, upgrade_database
    from app.generation import service
    from app.generation.schemas import JobCreate
    from app.models import Job, JobStatus, SeedSet
    from app.seeds.service import sync_builtin_seed_sets, upload_seed_set

    out = Path(args.out).expanduser().resolve()
    database_url = args.db or f"sqlite:///{out}.pasture.db"
    settings = _settings(database_url=database_url, log_level=args.log_level)
    _configure_logging(settings.log_level)
    logging.getLogger("app.generation").setLevel(logging.WARNING if not args.verbose else logging.INFO)
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    job_name = f"generate:{out}"
    with unit_of_work(factory) as session:
        sync_builtin_seed_sets(session, settings.seed_dir)
        seed_set_name = None
        if args.seeds:
            data = Path(args.seeds).read_bytes()
            seed_set_name = f"file-{hashlib.sha256(data).hexdigest()[:12]}"
            if session.query(SeedSet).filter_by(name=seed_set_name).first() is None:
                upload_seed_set(
                    session,
                    name=seed_set_name,
                    language=args.language,
                    data=data,
                    description=f"from {args.seeds}",
                )
        job = session.query(Job).filter_by(name=job_name).first()
        if job is None:
            payload = {
                "name": job_name,
                "target": args.target,
                "model": args.model,
                "base_url": args.base_url,
                "seed_set": seed_set_name,
                "language": args.language,
                "api": args.api,
                "examples_per_prompt": args.examples_per_prompt,
                "records_per_request": args.records_per_request,
                "generated_examples": args.generated_examples,
                "temperature": args.temperature,
                "top_p": args.top_p,
                "max_tokens": args.max_tokens,
                "rouge_threshold": args.threshold,
                "concurrency": args.concurrency,
                "requests_per_minute": args.rpm,
                "tokens_per_minute": args.tpm,
                "budget_usd": args.budget,
                "price_input_per_mtok": args.price_input,
                "price_output_per_mtok": args.price_output,
                "seed": args.seed,
            }
            job = service.create_job(
                session, JobCreate(**{k: v for k, v in payload.items() if v is not None})
            )
            print(f"started job {job.id}: {args.target} records from {job.model}", file=sys.stderr)
        else:
            if args.target != job.target and args.target >= job.kept:
                job.target = args.target
            if job.status in (JobStatus.PAUSED, JobStatus.FAILED) or (
                job.status == JobStatus.SUCCEEDED and job.kept < job.target
            ):
                job.status = JobStatus.QUEUED
                job.status_reason = None
            print(f"resuming job {job.id}: {job.kept}/{job.target} kept so far", file=sys.stderr)
        job_id = job.id
    started = time.monotonic()
    _run_with_progress(factory, settings, job_id, quiet=args.quiet)
    with unit_of_work(factory) as session:
        job = service.get_job(session, job_id)
        count = _write_jsonl(out, service.iter_kept_records(session, job_id))
        summary = {
            "job": job.id,
            "status": job.status,
            "kept": job.kept,
            "target": job.target,
            "candidates": job.candidates,
            "rejections": job.rejections,
            "requests": job.requests_sent,
            "prompt_tokens": job.prompt_tokens,
            "completion_tokens": job.completion_tokens,
            "cost_usd": round(job.cost_usd, 6),
            "seconds": round(time.monotonic() - started, 1),
        }
        status, reason = job.status, job.status_reason
    engine.dispose()
    print(json.dumps(summary, ensure_ascii=False), file=sys.stderr)
    print(f"wrote {count} records to {out}", file=sys.stderr)
    if status != JobStatus.SUCCEEDED:
        print(f"error: job {job_id} is {status}: {reason or 'stopped before its target'}", file=sys.stderr)
        return 1
    return 0


def _write_jsonl(path: Path, rows: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def _run_with_progress(factory: Any, settings: Settings, job_id: int, *, quiet: bool) -> None:
    from tqdm import tqdm

    from app.db import unit_of_work
    from app.generation.runner import Runner
    from app.models import Job

    runner = Runner(factory, settings, only_job_id=job_id)

    def snapshot() -> tuple[int, int, float, int, str]:
        with unit_of_work(factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            rejected = sum((job.rejections or {}).values())
            return job.kept, job.target, job.cost_usd, rejected, job.status

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        kept, target, _, _, _ = await asyncio.to_thread(snapshot)
        bar = tqdm(total=target, initial=kept, unit="rec", disable=quiet, dynamic_ncols=True)
        task = asyncio.create_task(runner.run(stop))
        try:
            while not task.done():
                await asyncio.wait([task], timeout=0.5)
                kept, target, cost, rejected, status = await asyncio.to_thread(snapshot)
                bar.total = target
                bar.n = kept
                bar.set_postfix(rejected=rejected, cost=f"${cost:.4f}", status=status, refresh=False)
                bar.refresh()
            task.result()
        finally:
            bar.close()
        if stop.is_set():
            print("interrupted: run the same command again to resume", file=sys.stderr)

    asyncio.run(main())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pasture", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API, the dashboard and the job runner (migrates first)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="heads")
    migrate.set_defaults(func=cmd_migrate)

    runner = sub.add_parser(
        "runner", help="run queued generation jobs and evaluations here (more runners scale on PostgreSQL)"
    )
    runner.set_defaults(func=cmd_runner)

    gen = sub.add_parser("generate", help="run a generation job without the server; rerun to resume")
    gen.add_argument("--target", type=int, required=True, help="records to keep")
    gen.add_argument("--out", required=True, help="JSONL file to write the kept records to")
    gen.add_argument("--seeds", help="seed file (self-instruct jsonl or Alpaca json); default: built-in set")
    gen.add_argument("--model", default=os.environ.get("PASTURE_MODEL", "gpt-4o-mini"))
    gen.add_argument("--base-url", default=None, help="default: OPENAI_BASE_URL")
    gen.add_argument("--language", default="en")
    gen.add_argument("--api", choices=["chat", "completions"], default="chat")
    gen.add_argument("--db", default=None, help="database URL (default: sqlite file next to --out)")
    gen.add_argument("--examples-per-prompt", type=int, default=None)
    gen.add_argument("--records-per-request", type=int, default=None)
    gen.add_argument("--generated-examples", type=int, default=None)
    gen.add_argument("--temperature", type=float, default=None)
    gen.add_argument("--top-p", type=float, default=None)
    gen.add_argument("--max-tokens", type=int, default=None)
    gen.add_argument("--threshold", type=float, default=None, help="ROUGE-L threshold (default 0.7)")
    gen.add_argument("--concurrency", type=int, default=None)
    gen.add_argument("--rpm", type=int, default=None, help="requests per minute")
    gen.add_argument("--tpm", type=int, default=None, help="tokens per minute")
    gen.add_argument("--budget", type=float, default=None, help="stop before spending more (USD)")
    gen.add_argument("--price-input", type=float, default=None, help="USD per million prompt tokens")
    gen.add_argument("--price-output", type=float, default=None, help="USD per million completion tokens")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.add_argument("--verbose", action="store_true")
    gen.add_argument("--log-level", default="WARNING")
    gen.set_defaults(func=cmd_generate)

    try:
        from app.dedupe.command import add_parser as add_dedupe_parser
    except ImportError:  # pragma: no cover - the dedupe command ships with the service extra
        pass
    else:
        add_dedupe_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
