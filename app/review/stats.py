"""Aggregates behind the dashboard's charts, for one job or across all of them.

Each chart is a GROUP BY or a histogram over a few columns, so the JSON stays small at any size. Lengths
are in characters. The ROUGE-L histogram is the self-instruct paper's: every candidate that reached the
near-duplicate check, by its score against the most similar instruction kept before it (or a seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Float, Integer, cast, func, literal_column, select
from sqlalchemy.orm import Session

from app.models import Job, Record, RecordStatus, ReviewStatus, TeacherCall
from app.review.verbs import verb_chart

TIMELINE_BUCKETS = 48
LENGTH_BINS = 24
SIMILARITY_BINS = 20
REVIEW_KEYS = {ReviewStatus.PENDING: "pending", ReviewStatus.APPROVED: "approved"}
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


KEPT = Record.status == RecordStatus.KEPT


def _epoch(session: Session, column: Any) -> ColumnElement[float]:
    """Seconds since 1970 for a datetime column, on SQLite (text) and PostgreSQL (timestamptz)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Float)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _bucket(session: Session, value: ColumnElement[Any]) -> ColumnElement[int]:
    """floor(value) as an integer (values here are never negative; PostgreSQL's CAST would round)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(value), Integer)
    return cast(value, Integer)


def _number(value: float) -> ColumnElement[float]:
    """A number written into the SQL: GROUP BY must see the same expression as SELECT, not two parameters."""
    return literal_column(repr(float(value)))


def _nice_seconds(span: float, buckets: int) -> int:
    raw = max(span / buckets, 1.0)
    for step in NICE_STEPS:
        if step >= raw:
            return step
    return int(math.ceil(raw / 86400) * 86400)


def _nice_ceiling(value: float) -> int:
    """1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= value:
            return math.ceil(factor * power)
    return int(10 * power)


def _scoped(query: Any, job_id: int | None, column: Any = Record.job_id) -> Any:
    return query if job_id is None else query.where(column == job_id)


def timeline(session: Session, job_id: int | None) -> dict[str, Any]:
    """Kept records and spend, cumulative, in up to TIMELINE_BUCKETS equal time buckets."""
    kept_at = _epoch(session, Record.created_at)
    cost_at = _epoch(session, TeacherCall.completed_at)
    kept_span = session.execute(
        _scoped(select(func.min(kept_at), func.max(kept_at)).where(KEPT), job_id)
    ).one()
    cost_span = session.execute(
        _scoped(
            select(func.min(cost_at), func.max(cost_at)).where(TeacherCall.completed_at.is_not(None)),
            job_id,
            TeacherCall.job_id,
        )
    ).one()
    starts = [v for v in (kept_span[0], cost_span[0]) if v is not None]
    ends = [v for v in (kept_span[1], cost_span[1]) if v is not None]
    if not starts:
        return {"start": None, "bucket_seconds": None, "points": []}
    start, end = float(min(starts)), float(max(ends))
    step = _nice_seconds(end - start, TIMELINE_BUCKETS)
    count = int((end - start) // step) + 1
    kept = [0] * count
    cost = [0.0] * count
    kept_bucket = _bucket(session, (kept_at - _number(start)) / _number(step))
    for bucket, n in session.execute(
        _scoped(
            select(kept_bucket, func.count(Record.id)).where(Record.status == RecordStatus.KEPT), job_id
        ).group_by(kept_bucket)
    ):
        kept[min(max(int(bucket), 0), count - 1)] += n
    cost_bucket = _bucket(session, (cost_at - _number(start)) / _number(step))
    for bucket, spent in session.execute(
        _scoped(
            select(cost_bucket, func.sum(TeacherCall.cost_usd)).where(TeacherCall.completed_at.is_not(None)),
            job_id,
            TeacherCall.job_id,
        ).group_by(cost_bucket)
    ):
        cost[min(max(int(bucket), 0), count - 1)] += float(spent or 0.0)
    # Cumulative totals at the end of each bucket, after a zero at the start: a line from nothing.
    points = [{"t": start, "kept": 0, "cost_usd": 0.0}]
    kept_total, cost_total = 0, 0.0
    for i in range(count):
        kept_total += kept[i]
        cost_total += cost[i]
        points.append({"t": start + (i + 1) * step, "kept": kept_total, "cost_usd": round(cost_total, 6)})
    return {"start": start, "bucket_seconds": step, "points": points}


def _histogram(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Equal-width bins up to a round number near the 99th percentile; the last bin takes the longer tail."""
    if values.size == 0:
        return {"edges": [], "counts": [], "overflow": False, "median": None}
    top = _nice_ceiling(float(np.percentile(values, 99)) + 1)
    width = max(1, math.ceil(top / LENGTH_BINS))
    bins = math.ceil(top / width)
    edges = [i * width for i in range(bins + 1)]
    counts = np.bincount(np.minimum(values // width, bins - 1).astype(np.int64), minlength=bins)
    return {
        "edges": edges,
        "counts": counts.tolist(),
        "overflow": bool(values.max() >= edges[-1]),
        "median": float(np.median(values)),
    }


def lengths(session: Session, job_id: int | None) -> dict[str, Any]:
    """Length histograms (characters) of kept records: instruction, non-empty input, output."""
    columns = (func.length(Record.instruction), func.length(Record.input), func.length(Record.output))
    rows = session.execute(_scoped(select(*columns).where(KEPT), job_id)).all()
    table = np.array(rows, dtype=np.int64).reshape(-1, 3)
    inputs = table[:, 1]
    return {
        "instruction": _histogram(table[:, 0]),
        "input": _histogram(inputs[inputs > 0]),
        "output": _histogram(table[:, 2]),
    }


def similarity(session: Session, job_id: int | None) -> dict[str, Any]:
    """ROUGE-L to the nearest neighbour, in SIMILARITY_BINS bins over [0, 1], kept and rejected apart."""
    bucket = _bucket(session, Record.max_similarity * _number(SIMILARITY_BINS))
    kept = [0] * SIMILARITY_BINS
    rejected = [0] * SIMILARITY_BINS
    query = _scoped(
        select(bucket, Record.status, func.count(Record.id)).where(Record.max_similarity.is_not(None)), job_id
    ).group_by(bucket, Record.status)
    for b, status, n in session.execute(query):
        target = kept if status == RecordStatus.KEPT else rejected
        target[min(max(int(b), 0), SIMILARITY_BINS - 1)] += n
    threshold = None
    if job_id is not None:
        threshold = session.scalar(select(Job.rouge_threshold).where(Job.id == job_id))
    return {
        "edges": [round(i / SIMILARITY_BINS, 4) for i in range(SIMILARITY_BINS + 1)],
        "kept": kept,
        "rejected": rejected,
        "threshold": threshold,
    }


def rejections(session: Session, job_id: int | None) -> list[dict[str, Any]]:
    query = _scoped(
        select(Record.reason, func.count(Record.id)).where(Record.status == RecordStatus.REJECTED), job_id
    ).group_by(Record.reason)
    rows = [{"reason": reason or "unknown", "count": n} for reason, n in session.execute(query)]
    return sorted(rows, key=lambda row: (-row["count"], row["reason"]))


def totals(session: Session, job_id: int | None) -> dict[str, Any]:
    counts: dict[str, int] = {
        "records": 0, "kept": 0, "rejected": 0, "pending": 0, "approved": 0, "review_rejected": 0,
        "with_input": 0,
    }  # fmt: skip
    with_input = func.sum(cast(Record.input != "", Integer))
    query = _scoped(select(Record.status, Record.review_status, func.count(Record.id), with_input), job_id)
    for status, review, n, inputs in session.execute(query.group_by(Record.status, Record.review_status)):
        counts["records"] += n
        if status == RecordStatus.KEPT:
            counts["kept"] += n
            counts["with_input"] += int(inputs or 0)
            counts[REVIEW_KEYS.get(review, "review_rejected")] += n
        else:
            counts["rejected"] += n
    cost = session.scalar(_scoped(select(func.coalesce(func.sum(Job.cost_usd), 0.0)), job_id, Job.id))
    return {**counts, "without_input": counts["kept"] - counts["with_input"], "cost_usd": float(cost or 0.0)}


def overview(session: Session, job_id: int | None = None) -> dict[str, Any]:
    """Everything the charts of one job (or of all jobs) draw, except the verb chart (see ``verbs``)."""
    summary = totals(session, job_id)
    return {
        "job_id": job_id,
        "totals": summary,
        "timeline": timeline(session, job_id),
        "lengths": lengths(session, job_id),
        "similarity": similarity(session, job_id),
        "rejections": rejections(session, job_id),
        "input_share": {"with_input": summary["with_input"], "without_input": summary["without_input"]},
    }


def verbs(session: Session, job_id: int | None = None, *, top: int = 20, objects: int = 4) -> dict[str, Any]:
    """Leading verbs of kept instructions and their first objects (heuristic: app.review.verbs)."""
    rows = session.execute(
        _scoped(
            select(Record.instruction, Record.language).where(Record.status == RecordStatus.KEPT), job_id
        ).execution_options(yield_per=5000)
    )
    pairs = ((instruction, language) for instruction, language in rows)
    chart = verb_chart(pairs, top_verbs=top, top_objects=objects)
    return {
        "job_id": job_id,
        "analysed": chart.analysed,
        "with_verb": chart.with_verb,
        "skipped_other_languages": chart.skipped,
        "verbs": [
            {
                "verb": v.verb,
                "count": v.count,
                "objects": [{"object": o, "count": n} for o, n in v.objects],
                "other": v.count - sum(n for _, n in v.objects),
            }
            for v in chart.verbs
        ],
    }


@dataclass(frozen=True, slots=True)
class JobSummary:
    id: int
    name: str | None
    status: str
    kept: int
    target: int
    rejected: int
    approved: int
    review_rejected: int
    cost_usd: float


def jobs_comparison(session: Session, *, limit: int = 30) -> list[JobSummary]:
    """The newest jobs side by side: kept, rejected, review outcome and cost."""
    jobs = list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))
    if not jobs:
        return []
    ids = [job.id for job in jobs]
    reviewed: dict[tuple[int, str], int] = {}
    query = (
        select(Record.job_id, Record.review_status, func.count(Record.id))
        .where(Record.job_id.in_(ids), Record.status == RecordStatus.KEPT)
        .group_by(Record.job_id, Record.review_status)
    )
    for job_id, review, n in session.execute(query):
        reviewed[(job_id, review)] = n
    return [
        JobSummary(
            id=job.id,
            name=job.name,
            status=job.status,
            kept=job.kept,
            target=job.target,
            rejected=sum(int(v) for v in (job.rejections or {}).values()),
            approved=reviewed.get((job.id, ReviewStatus.APPROVED), 0),
            review_rejected=reviewed.get((job.id, ReviewStatus.REJECTED), 0),
            cost_usd=job.cost_usd,
        )
        for job in reversed(jobs)
    ]
