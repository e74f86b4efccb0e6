"""Plain factory functions that write real rows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Job, Record, SeedSet


def make_job(session: Session, *, language: str = "en", **values: object) -> Job:
    seed_set = session.query(SeedSet).filter_by(name="factory-seeds").first()
    if seed_set is None:
        seed_set = SeedSet(name="factory-seeds", language=language, sha256="0" * 64, task_count=0)
        session.add(seed_set)
        session.flush()
    job = Job(
        target=values.pop("target", 10),
        model="fake-teacher",
        seed_set_id=seed_set.id,
        language=language,
        status="succeeded",
        **values,
    )
    session.add(job)
    session.flush()
    return job


def make_records(
    session: Session, job: Job, texts: list[tuple[str, str, str]], *, review_status: str = "approved"
) -> list[Record]:
    records = [
        Record(
            job_id=job.id,
            status="kept",
            instruction=i,
            input=inp,
            output=out,
            language=job.language,
            review_status=review_status,
            nearest=[],
        )
        for i, inp, out in texts
    ]
    session.add_all(records)
    job.kept += len(records)
    session.flush()
    return records


def numbered_texts(n: int, start: int = 0) -> list[tuple[str, str, str]]:
    return [
        (
            f"Explain fact number {i} about the history of {i * 7 % 97} rivers.",
            "" if i % 3 else f"context {i}",
            f"Answer {i}.",
        )
        for i in range(start, start + n)
    ]
