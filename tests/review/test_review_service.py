"""Review rules against a real database (SQLite and PostgreSQL): approve, reject, edit, restore, bulk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import utcnow
from app.errors import Conflict, InvalidInput
from app.models import Job, Record, RecordEdit
from app.records.service import RecordFilter
from app.review import service
from app.review.restore import RestoreIndexes
from app.review.service import ReviewAction
from tests.review.conftest import add_record, make_job

APPROVE, REJECT, RESET = ReviewAction.APPROVE, ReviewAction.REJECT, ReviewAction.RESET


@pytest.fixture
def session(session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        yield session


class TestReview:
    def test_approve_reject_and_reset_leave_a_trail(self, session: Session) -> None:
        job = make_job(session)
        record = add_record(session, job, "Name three rivers in Europe.")
        service.review_record(session, record.id, APPROVE, actor="api")
        service.review_record(session, record.id, APPROVE, actor="api")  # a no-op: no second row
        service.review_record(session, record.id, REJECT, actor="dashboard")
        service.review_record(session, record.id, RESET, actor="api")
        session.commit()
        trail = [(e.kind, e.field, e.before, e.after, e.actor) for e in service.history(session, record.id)]
        assert trail == [
            ("review", "review_status", "pending", "approved", "api"),
            ("review", "review_status", "approved", "rejected", "dashboard"),
            ("review", "review_status", "rejected", "pending", "api"),
        ]
        assert session.get(Record, record.id).review_status == "pending"  # type: ignore[union-attr]

    def test_a_generator_rejected_record_must_be_restored_before_review(self, session: Session) -> None:
        job = make_job(session)
        record = add_record(session, job, "Write a haiku about the sea again.", status="rejected")
        with pytest.raises(Conflict, match="restore it first"):
            service.review_record(session, record.id, APPROVE, actor="api")

    def test_edit_keeps_before_and_after_of_each_changed_field(self, session: Session) -> None:
        job = make_job(session)
        record = add_record(session, job, "Translate 'cat' to French.", output="chat")
        service.edit_record(
            session, record.id, {"instruction": "Translate 'dog' to French.", "output": "chien", "input": ""},
            actor="api",
        )  # fmt: skip
        session.commit()
        edits = service.history(session, record.id)
        assert [(e.field, e.before, e.after) for e in edits] == [
            ("instruction", "Translate 'cat' to French.", "Translate 'dog' to French."),
            ("output", "chat", "chien"),
        ]
        assert all(e.at is not None and e.kind == "edit" for e in edits)

    def test_edit_refuses_an_empty_instruction(self, session: Session) -> None:
        job = make_job(session)
        record = add_record(session, job, "Say hello.")
        with pytest.raises(InvalidInput, match="instruction"):
            service.edit_record(session, record.id, {"instruction": "   "}, actor="api")


class TestRestore:
    def test_restores_a_distinct_candidate_and_moves_the_counters(self, session: Session) -> None:
        job = make_job(session)
        add_record(session, job, "Describe the life cycle of a butterfly.")
        record = add_record(
            session, job, "Suggest a name for a bakery that sells only bread.", status="rejected",
            reason="target_reached",
        )  # fmt: skip
        add_record(session, job, "Another rejected one.", status="rejected", reason="target_reached")
        session.commit()
        kept_before = job.kept
        restored = service.restore_record(session, record.id, actor="api", indexes=RestoreIndexes())
        session.commit()
        assert restored.status == "kept" and restored.reason is None
        assert restored.review_status == "pending"
        assert restored.max_similarity is not None and restored.max_similarity < job.rouge_threshold
        assert len(restored.nearest) > 0
        job = session.get(Job, job.id, populate_existing=True)  # type: ignore[assignment]
        assert job.kept == kept_before + 1
        assert job.rejections == {"target_reached": 1}
        (edit,) = service.history(session, record.id)
        assert (edit.kind, edit.before, edit.after) == ("restore", "rejected:target_reached", "kept")

    def test_a_near_duplicate_is_refused_with_the_score_and_the_nearest(self, session: Session) -> None:
        job = make_job(session)
        kept = add_record(session, job, "Describe the life cycle of a butterfly in detail.")
        record = add_record(
            session, job, "Describe the life cycle of a butterfly in great detail.", status="rejected"
        )
        session.commit()
        with pytest.raises(Conflict) as refused:
            service.restore_record(session, record.id, actor="api", indexes=RestoreIndexes())
        detail = refused.value.detail
        assert detail["score"] > job.rouge_threshold
        assert detail["nearest"] == {"kind": "record", "id": kept.id, "instruction": kept.instruction}

    def test_a_seed_counts_as_a_neighbour(self, session: Session) -> None:
        job = make_job(session)
        record = add_record(session, job, "Write a haiku about the sea, please.", status="rejected")
        session.commit()
        with pytest.raises(Conflict) as refused:
            service.restore_record(session, record.id, actor="api", indexes=RestoreIndexes())
        assert refused.value.detail["nearest"]["kind"] == "seed"

    @pytest.mark.parametrize("status", ["running", "queued"])
    def test_refused_while_the_job_runs(self, session: Session, status: str) -> None:
        job = make_job(session, status=status)
        record = add_record(
            session, job, "Plan a picnic for six people.", status="rejected", reason="refusal"
        )
        session.commit()
        with pytest.raises(Conflict, match="Pause the job"):
            service.restore_record(session, record.id, actor="api", indexes=RestoreIndexes())

    def test_refused_while_a_runner_still_holds_the_lease(self, session: Session) -> None:
        job = make_job(
            session, status="paused", runner_id="runner-1", lease_expires_at=utcnow() + timedelta(seconds=30)
        )
        record = add_record(
            session, job, "Plan a picnic for six people.", status="rejected", reason="refusal"
        )
        session.commit()
        with pytest.raises(Conflict, match="paused"):
            service.restore_record(session, record.id, actor="api", indexes=RestoreIndexes())

    def test_the_cached_index_sees_restores_and_instruction_edits(self, session: Session) -> None:
        indexes = RestoreIndexes()
        job = make_job(session)
        first = add_record(session, job, "Compose a limerick about a forgetful wizard.", status="rejected")
        second = add_record(
            session, job, "Compose a limerick about a forgetful old wizard.", status="rejected"
        )
        third = add_record(session, job, "Explain why the sky looks blue at noon.", status="rejected")
        session.commit()
        service.restore_record(session, first.id, actor="api", indexes=indexes)
        session.commit()
        with pytest.raises(Conflict):  # the first restore is in the cached index
            service.restore_record(session, second.id, actor="api", indexes=indexes)
        session.rollback()
        assert indexes.builds == 1
        # Once the first one's instruction changes, the second no longer collides with it.
        service.edit_record(session, first.id, {"instruction": "Name four moons of Jupiter."}, actor="api")
        session.commit()
        service.restore_record(session, second.id, actor="api", indexes=indexes)
        session.commit()
        assert indexes.builds == 2
        service.restore_record(session, third.id, actor="api", indexes=indexes)
        session.commit()
        assert indexes.builds == 2  # the cache kept up with the restore it made itself

    def test_a_rolled_back_restore_does_not_stay_in_the_cache(self, session: Session) -> None:
        indexes = RestoreIndexes()
        job = make_job(session)
        first = add_record(session, job, "Compose a limerick about a forgetful wizard.", status="rejected")
        second = add_record(
            session, job, "Compose a limerick about a forgetful old wizard.", status="rejected"
        )
        session.commit()
        service.restore_record(session, first.id, actor="api", indexes=indexes)
        session.rollback()
        restored = service.restore_record(session, second.id, actor="api", indexes=indexes)
        assert restored.status == "kept"


class TestBulk:
    def test_dry_run_counts_and_the_real_run_changes_only_what_differs(self, session: Session) -> None:
        job = make_job(session)
        other = make_job(session, seed_set_id=job.seed_set_id)
        records = [add_record(session, job, f"Give tip number {i} for sleeping well.") for i in range(5)]
        add_record(session, job, "A candidate the generator dropped.", status="rejected")
        add_record(session, other, "Give a tip from another job.")
        service.review_record(session, records[0].id, APPROVE, actor="api")
        session.commit()
        f = RecordFilter(job_id=job.id)
        dry = service.bulk_review(session, f, APPROVE, actor="api", dry_run=True)
        assert (dry.matched, dry.changed) == (5, 4)
        assert (
            session.scalar(select(RecordEdit.id).where(RecordEdit.field == "review_status").offset(1)) is None
        )
        done = service.bulk_review(session, f, APPROVE, actor="dashboard")
        session.commit()
        assert (done.matched, done.changed) == (5, 4)
        statuses = session.scalars(
            select(Record.review_status).where(Record.job_id == job.id, Record.status == "kept")
        )
        assert set(statuses) == {"approved"}
        other_status = session.scalar(select(Record.review_status).where(Record.job_id == other.id))
        assert other_status == "pending"
        trail = service.history(session, records[1].id)
        assert [(e.before, e.after, e.actor, e.detail) for e in trail] == [
            ("pending", "approved", "dashboard", "bulk approve")
        ]

    def test_bulk_with_a_search_filter(self, session: Session) -> None:
        job = make_job(session)
        add_record(session, job, "Explain how volcanoes erupt.")
        add_record(session, job, "Explain how tides work.")
        add_record(session, job, "List five volcanoes in Japan.")
        session.commit()
        result = service.bulk_review(session, RecordFilter(job_id=job.id, q="volcano"), REJECT, actor="api")
        session.commit()
        assert result.changed == 2
        rejected = set(session.scalars(select(Record.instruction).where(Record.review_status == "rejected")))
        assert rejected == {"Explain how volcanoes erupt.", "List five volcanoes in Japan."}

    def test_bulk_refuses_generator_rejected_records(self, session: Session) -> None:
        with pytest.raises(InvalidInput, match="kept records"):
            service.bulk_review(session, RecordFilter(status="rejected"), APPROVE, actor="api")
