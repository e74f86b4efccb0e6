"""Review rules: approve, reject, edit, restore and bulk review, each leaving a trail in ``record_edits``.

``records.status`` is the generator's verdict (kept, or rejected with a reason); ``records.review_status`` is
a person's (pending, approved, rejected) and applies to kept records only. A restore overrules the generator:
it moves a rejected candidate to kept when it passes the near-duplicate check against the job's seeds and
kept records now. No web imports: the dashboard, the API and scripts share these functions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.dedupe import Decision
from app.errors import Conflict, InvalidInput, NotFound
from app.models import EditKind, Job, JobStatus, Record, RecordEdit, RecordStatus, ReviewStatus, TeacherCall
from app.records.service import RecordFilter, apply_filter
from app.review.restore import RestoreIndexes

NEIGHBOURS_SHOWN = 10
EDITABLE_FIELDS = ("instruction", "input", "output")


class ReviewAction(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RESET = "reset"  # back to pending
    RESTORE = "restore"


REVIEW_TARGET = {
    ReviewAction.APPROVE: ReviewStatus.APPROVED,
    ReviewAction.REJECT: ReviewStatus.REJECTED,
    ReviewAction.RESET: ReviewStatus.PENDING,
}


class RecordNotFound(NotFound):
    pass


class NotReviewable(Conflict):
    pass


class JobBusy(Conflict):
    pass


class RestoreRefused(Conflict):
    pass


def get_record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None:
        raise RecordNotFound(f"record {record_id} does not exist")
    return record


def _trail(
    session: Session,
    record: Record,
    kind: EditKind,
    field: str,
    before: str | None,
    after: str | None,
    *,
    actor: str,
    at: datetime,
    detail: str | None = None,
) -> None:
    session.add(
        RecordEdit(
            record_id=record.id,
            at=at,
            kind=kind,
            field=field,
            before=before,
            after=after,
            actor=actor,
            detail=detail,
        )
    )


def review_record(session: Session, record_id: int, action: ReviewAction, *, actor: str) -> Record:
    """Approve, reject or reset a kept record (a no-op when it already has that review status)."""
    if action == ReviewAction.RESTORE:
        raise ValueError("restore_record restores; review_record only approves, rejects and resets")
    record = get_record(session, record_id)
    if record.status != RecordStatus.KEPT:
        raise NotReviewable(
            f"record {record_id} was rejected by the generator ({record.reason}); restore it first, "
            "then review it"
        )
    target = REVIEW_TARGET[action]
    if record.review_status == target:
        return record
    now = utcnow()
    before = record.review_status
    _trail(session, record, EditKind.REVIEW, "review_status", before, target, actor=actor, at=now)
    record.review_status = target
    record.updated_at = now
    session.flush()
    return record


def edit_record(session: Session, record_id: int, changes: dict[str, str], *, actor: str) -> Record:
    """Change instruction, input or output; one history row per field that really changed."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)}: only {', '.join(EDITABLE_FIELDS)} can be edited")
    if "instruction" in changes and not changes["instruction"].strip():
        raise InvalidInput("instruction: an instruction cannot be empty")
    record = get_record(session, record_id)
    now = utcnow()
    changed = False
    for field in EDITABLE_FIELDS:
        if field not in changes or changes[field] == getattr(record, field):
            continue
        before = getattr(record, field)
        _trail(session, record, EditKind.EDIT, field, before, changes[field], actor=actor, at=now)
        setattr(record, field, changes[field])
        changed = True
    if changed:
        record.updated_at = now
        session.flush()
    return record


def job_is_busy(job: Job, now: datetime) -> bool:
    """A runner may be holding the job's near-duplicate index in memory."""
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        return True
    return job.runner_id is not None and job.lease_expires_at is not None and job.lease_expires_at > now


def _neighbours(decision: Decision) -> list[dict[str, object]]:
    nearest: list[dict[str, object]] = []
    for neighbour in decision.neighbours:
        key = neighbour.key
        is_seed = isinstance(key, str) and key.startswith("seed:")
        nearest.append(
            {
                "kind": "seed" if is_seed else "record",
                "id": int(str(key).removeprefix("seed:")),
                "instruction": neighbour.text,
                "score": neighbour.score,
            }
        )
    return nearest


def restore_record(session: Session, record_id: int, *, actor: str, indexes: RestoreIndexes) -> Record:
    """Move a rejected candidate to kept if it is no near-duplicate of the job's seeds and kept records.

    Refused (409) while the job is queued or running, because its runner keeps a near-duplicate index of its
    own in memory and would not see the restored record: pause the job, restore, resume (the runner rebuilds
    its index from the database on resume). Restores of one job are serialised by a write on the job's row
    (a row lock on PostgreSQL, the write lock on SQLite), so two of them never miss each other.
    """
    record = get_record(session, record_id)
    now = utcnow()
    # Take the job's lock before reading what the check depends on.
    session.execute(
        update(Job)
        .where(Job.id == record.job_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    record = session.get(Record, record_id, populate_existing=True) or record
    job = session.get(Job, record.job_id, populate_existing=True)
    assert job is not None
    if record.status == RecordStatus.KEPT:
        raise NotReviewable(f"record {record_id} is already kept; only rejected candidates can be restored")
    if job_is_busy(job, now):
        raise JobBusy(
            f"job {job.id} is {job.status}: its runner keeps its own near-duplicate index while it runs, "
            "so a restore now could let a duplicate in. Pause the job (or let it finish), restore, then "
            "resume it"
        )
    if not record.instruction.strip():
        raise InvalidInput(f"record {record_id} has an empty instruction; edit it before restoring it")
    with indexes.lock:
        index, current = indexes.index_for(session, job)
        decision = index.check(record.instruction, k=NEIGHBOURS_SHOWN)
        if decision.is_duplicate:
            best = decision.neighbours[0]
            nearest = {
                "kind": "seed" if isinstance(best.key, str) else "record",
                "id": int(str(best.key).removeprefix("seed:")),
                "instruction": best.text,
            }
            raise RestoreRefused(
                f"record {record_id} is still a near-duplicate: ROUGE-L {decision.max_score:.3f} > "
                f"{job.rouge_threshold} against \u201c{best.text}\u201d",
                detail={"score": decision.max_score, "threshold": job.rouge_threshold, "nearest": nearest},
            )
        old_reason = record.reason
        before = f"{RecordStatus.REJECTED}:{old_reason}"
        detail = f"ROUGE-L {decision.max_score:.3f} to the nearest kept or seed instruction"
        _trail(
            session,
            record,
            EditKind.RESTORE,
            "status",
            before,
            RecordStatus.KEPT,
            actor=actor,
            at=now,
            detail=detail,
        )
        record.status = RecordStatus.KEPT
        record.reason = None
        record.reason_detail = None
        record.max_similarity = decision.max_score
        record.mean_similarity = decision.mean_score
        record.nearest = _neighbours(decision)
        record.updated_at = now
        job.kept += 1
        rejections = dict(job.rejections or {})
        if old_reason is not None and rejections.get(old_reason, 0) > 0:
            rejections[old_reason] -= 1
            if rejections[old_reason] == 0:
                del rejections[old_reason]
        job.rejections = rejections
        session.flush()
        kept_count, newest, last_edit = current[-3], current[-2], current[-1]
        assert isinstance(kept_count, int)
        newest_id = newest if isinstance(newest, int) else 0
        expected = (*current[:-3], kept_count + 1, max(newest_id, record.id), last_edit)
        indexes.kept(job.id, record.id, record.instruction, expected)
    return record


@dataclass(frozen=True, slots=True)
class BulkResult:
    action: ReviewAction
    matched: int  # kept records the filter selects
    changed: int  # of those, the ones whose review status changes (all of them would, on a dry run)
    dry_run: bool


def bulk_review(
    session: Session, f: RecordFilter, action: ReviewAction, *, actor: str, dry_run: bool = False
) -> BulkResult:
    """Approve, reject or reset every kept record that ``f`` selects, with a history row for each change."""
    if action == ReviewAction.RESTORE:
        raise InvalidInput("action: restore works one record at a time (each one is checked for duplicates)")
    if f.status == RecordStatus.REJECTED:
        raise InvalidInput(
            "status: bulk review applies to kept records; rejected candidates are restored one at a time"
        )
    target = REVIEW_TARGET[action]
    selected = apply_filter(select(Record.id), f, session).where(Record.status == RecordStatus.KEPT)
    matched = session.scalar(select(func.count()).select_from(selected.subquery())) or 0
    to_change = selected.where(Record.review_status != target)
    changing = session.scalar(select(func.count()).select_from(to_change.subquery())) or 0
    if dry_run or changing == 0:
        return BulkResult(action, matched, changing, dry_run)
    now = utcnow()
    ids = to_change.subquery()
    session.execute(
        insert(RecordEdit).from_select(
            ["record_id", "at", "kind", "field", "before", "after", "actor", "detail"],
            select(
                Record.id,
                literal(now, RecordEdit.at.type),
                literal(EditKind.REVIEW.value),
                literal("review_status"),
                Record.review_status,
                literal(target.value),
                literal(actor),
                literal(f"bulk {action.value}"),
            ).where(Record.id.in_(select(ids.c.id))),
        )
    )
    result = session.execute(
        update(Record)
        .where(Record.id.in_(select(ids.c.id)))
        .values(review_status=target, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return BulkResult(action, matched, int(result.rowcount or 0), dry_run)  # type: ignore[attr-defined]


def history(session: Session, record_id: int) -> list[RecordEdit]:
    get_record(session, record_id)
    query = select(RecordEdit).where(RecordEdit.record_id == record_id).order_by(RecordEdit.id)
    return list(session.scalars(query))


def teacher_call_for(session: Session, record_id: int) -> TeacherCall:
    record = get_record(session, record_id)
    call = session.get(TeacherCall, record.call_id) if record.call_id is not None else None
    if call is None:
        raise NotFound(f"record {record_id} has no teacher call on file")
    return call


def review_counts(session: Session, job_id: int | None = None) -> dict[str, int]:
    """Kept records by review status (pending, approved, rejected)."""
    query = select(Record.review_status, func.count(Record.id)).where(Record.status == RecordStatus.KEPT)
    if job_id is not None:
        query = query.where(Record.job_id == job_id)
    counts = {status.value: 0 for status in ReviewStatus}
    for status, count in session.execute(query.group_by(Record.review_status)):
        counts[status] = count
    return counts


def neighbour_links(record: Record) -> list[dict[str, object]]:
    """The stored nearest instructions, best first, with a flag for those that are records one can open."""
    rows: list[dict[str, object]] = []
    for item in record.nearest or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("kind")
        rows.append(
            {
                "kind": kind,
                "id": item.get("id"),
                "instruction": str(item.get("instruction", "")),
                "score": float(item.get("score", 0.0)),
                "is_record": kind == "record" and isinstance(item.get("id"), int),
            }
        )
    return rows[:NEIGHBOURS_SHOWN]
