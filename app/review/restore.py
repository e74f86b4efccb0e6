"""The near-duplicate index a restore checks against: a job's seeds and kept records.

Building it costs about half a second at 52K records, so each job's index is kept between restores. It is
trusted only while its fingerprint matches the database (kept count, newest kept id, last instruction edit,
the job's own identity): any restore, edit or new record made elsewhere, by another process included, makes
the next restore rebuild it. Correctness never depends on the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.dedupe import NearDuplicateIndex, make_index, tokenizer_for_language
from app.models import EditKind, Job, Record, RecordEdit, RecordStatus, SeedTask

Fingerprint = tuple[object, ...]


def seed_key(seed_task_id: int) -> str:
    """The runner's key for a seed in its index (app.generation.runner.seed_key)."""
    return f"seed:{seed_task_id}"


def fingerprint(session: Session, job: Job) -> Fingerprint:
    kept_count, newest_kept = session.execute(
        select(func.count(Record.id), func.max(Record.id)).where(
            Record.job_id == job.id, Record.status == RecordStatus.KEPT
        )
    ).one()
    last_instruction_edit = session.scalar(
        select(func.max(RecordEdit.id))
        .join(Record, Record.id == RecordEdit.record_id)
        .where(Record.job_id == job.id, RecordEdit.kind == EditKind.EDIT, RecordEdit.field == "instruction")
    )
    return (
        job.id,
        job.created_at.isoformat(),
        job.seed_set_id,
        job.language,
        job.rouge_threshold,
        kept_count,
        newest_kept,
        last_instruction_edit,
    )


def build_index(session: Session, job: Job) -> NearDuplicateIndex:
    index = make_index(threshold=job.rouge_threshold, tokenizer=tokenizer_for_language(job.language))
    seeds = session.execute(
        select(SeedTask.id, SeedTask.instruction)
        .where(SeedTask.seed_set_id == job.seed_set_id)
        .order_by(SeedTask.position)
    )
    index.add_many((seed_key(seed_id), instruction) for seed_id, instruction in seeds)
    kept = session.execute(
        select(Record.id, Record.instruction)
        .where(Record.job_id == job.id, Record.status == RecordStatus.KEPT)
        .order_by(Record.id)
        .execution_options(yield_per=5000)
    )
    index.add_many((record_id, instruction) for record_id, instruction in kept)
    return index


@dataclass
class _Entry:
    fingerprint: Fingerprint
    index: NearDuplicateIndex


class RestoreIndexes:
    """Per-job indexes for restores, at most ``max_jobs`` of them (least recently used goes first)."""

    def __init__(self, max_jobs: int = 4) -> None:
        self.max_jobs = max_jobs
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self.lock = threading.RLock()
        self.builds = 0

    def index_for(self, session: Session, job: Job) -> tuple[NearDuplicateIndex, Fingerprint]:
        """The job's index as the database has it now (call with ``lock`` held)."""
        current = fingerprint(session, job)
        entry = self._entries.get(job.id)
        if entry is None or entry.fingerprint != current:
            entry = _Entry(current, build_index(session, job))
            self.builds += 1
            self._entries[job.id] = entry
        self._entries.move_to_end(job.id)
        while len(self._entries) > self.max_jobs:
            self._entries.popitem(last=False)
        return entry.index, current

    def kept(self, job_id: int, record_id: int, instruction: str, expected: Fingerprint) -> None:
        """A restore added ``record_id``: keep the index, with the fingerprint the database will then have.

        If the transaction rolls back after all, the database's fingerprint differs and the next restore
        rebuilds.
        """
        entry = self._entries.get(job_id)
        if entry is None:
            return
        entry.index.add(record_id, instruction)
        entry.fingerprint = expected

    def forget(self, job_id: int) -> None:
        self._entries.pop(job_id, None)
