"""Factories for review tests (jobs, teacher calls, records written straight to the database), hostile text,
and the headless Chromium the browser tests drive."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, Record, SeedSet, SeedTask, TeacherCall

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "review"

# Teacher output that would run script if it were ever parsed as HTML. Each payload sets window.__pwned.
HOSTILE_INSTRUCTION = (
    'Summarise this <script>window.__pwned = "script"</script> text '
    "<img src=x onerror=\"window.__pwned = 'img'\"> and {{ 7 * 7 }} too."
)
HOSTILE_INPUT = '"><svg onload="window.__pwned = \'svg\'"></svg><iframe src="javascript:window.__pwned=1">'
HOSTILE_OUTPUT = (
    "<a href=\"javascript:window.__pwned = 'link'\">click me</a> </pre></textarea></script>"
    "<script>window.__pwned = 'breakout'</script> <b onmouseover=\"window.__pwned='hover'\">bold</b>"
)
HOSTILE_JOB_NAME = "<script>window.__pwned='job'</script>"


def make_seed_set(
    session: Session, instructions: list[str] | None = None, *, language: str = "en"
) -> SeedSet:
    instructions = instructions or [
        "Write a haiku about the sea.",
        "Explain how a rainbow forms.",
        "List three uses of baking soda.",
    ]
    seed_set = SeedSet(name=f"test-{language}-{len(instructions)}-{id(instructions)}", language=language,
                       sha256="0" * 64, task_count=len(instructions))  # fmt: skip
    session.add(seed_set)
    session.flush()
    for position, instruction in enumerate(instructions):
        session.add(SeedTask(seed_set_id=seed_set.id, position=position, instruction=instruction, output="x"))
    session.flush()
    return seed_set


def make_job(session: Session, **values: Any) -> Job:
    if "seed_set_id" not in values:
        values["seed_set_id"] = make_seed_set(session).id
    values.setdefault("target", 100)
    values.setdefault("model", "fake-teacher")
    values.setdefault("status", "succeeded")
    job = Job(**values)
    session.add(job)
    session.flush()
    return job


def make_call(
    session: Session, job: Job, *, prompt: str = "the prompt", raw_reply: str = "the reply"
) -> TeacherCall:
    call = TeacherCall(job_id=job.id, model=job.model, api="chat", prompt=prompt, raw_reply=raw_reply,
                       status="applied")  # fmt: skip
    session.add(call)
    session.flush()
    return call


def add_record(session: Session, job: Job, instruction: str, **values: Any) -> Record:
    """A record as the runner stores it; a rejected one also counts in the job's rejections."""
    values.setdefault("status", "kept")
    values.setdefault("output", f"An answer to: {instruction}")
    values.setdefault("language", job.language)
    values.setdefault("nearest", [])
    if values["status"] == "kept":
        job.kept += 1
    else:
        values.setdefault("reason", "near_duplicate")
        rejections = dict(job.rejections or {})
        rejections[values["reason"]] = rejections.get(values["reason"], 0) + 1
        job.rejections = rejections
    position = session.scalar(select(Record.id).order_by(Record.id.desc()).limit(1)) or 0
    values.setdefault("position", position + 1)
    record = Record(job_id=job.id, instruction=instruction, **values)
    session.add(record)
    session.flush()
    return record


def chromium_or_skip() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(
                "Debian's chromium is missing at /usr/bin/chromium (scripts/test-services.sh installs it)"
            )
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium fonts-nanum)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(
            "the playwright package is not installed (pip install playwright; never 'playwright install')"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()
