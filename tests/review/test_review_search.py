"""Record search and sort orders on both backends: substring semantics, the trigram index kept in step, and
cursor pages that cover every record exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from app.models import Job
from app.records.service import RecordFilter, list_records
from app.review import service
from tests.review.conftest import add_record, make_job


@pytest.fixture
def session(session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        yield session


def found(session: Session, q: str, **filters: object) -> set[str]:
    items, total, _ = list_records(session, RecordFilter(q=q, **filters), limit=100)  # type: ignore[arg-type]
    assert total == len(items)
    return {r.instruction for r in items}


class TestSearchIndex:
    def test_the_index_exists_at_head(self, session: Session) -> None:
        bind = session.get_bind()
        if bind.dialect.name == "sqlite":
            triggers = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
            # A batch migration that rebuilds ``records`` drops these; it must create them again.
            assert {"records_fts_insert", "records_fts_delete", "records_fts_update"} <= triggers
            assert session.scalar(text("SELECT name FROM sqlite_master WHERE name = 'records_fts'"))
        else:
            names = {index["name"] for index in inspect(bind).get_indexes("records")}
            assert {"ix_records_instruction_trgm", "ix_records_input_trgm", "ix_records_output_trgm"} <= names


class TestSearch:
    def test_substrings_in_any_field_case_insensitive(self, session: Session) -> None:
        job = make_job(session)
        add_record(session, job, "Explain how volcanoes erupt.")
        add_record(session, job, "Summarise the text.", input="A VOLCANO near Naples.")
        add_record(session, job, "Name a mountain.", output="Vesuvius is a volcanic mountain.")
        add_record(session, job, "Explain how tides work.")
        session.commit()
        assert found(session, "volcan") == {
            "Explain how volcanoes erupt.",
            "Summarise the text.",
            "Name a mountain.",
        }
        assert found(session, "VOLCANO") == {"Explain how volcanoes erupt.", "Summarise the text."}
        assert found(session, "tides w") == {"Explain how tides work."}

    def test_special_characters_are_literal(self, session: Session) -> None:
        job = make_job(session)
        add_record(session, job, 'Say "hello" politely.')
        add_record(session, job, "Raise prices by 100% today.")
        add_record(session, job, "Raise prices by 100 euros today.")
        add_record(session, job, "Rename my_file.txt please.")
        add_record(session, job, "Rename myxfile.txt please.")
        session.commit()
        assert found(session, '"hello"') == {'Say "hello" politely.'}
        assert found(session, "100%") == {"Raise prices by 100% today."}
        assert found(session, "my_file") == {"Rename my_file.txt please."}

    def test_short_queries_scan(self, session: Session) -> None:
        job = make_job(session)
        add_record(session, job, "Explain AI to a child.")
        add_record(session, job, "Bake bread.")
        session.commit()
        assert found(session, "ai") == {"Explain AI to a child."}

    def test_edits_and_deletes_keep_the_index_in_step(self, session: Session) -> None:
        job = make_job(session)
        record = add_record(
            session, job, "Describe a lighthouse keeper's day.", output="Dawn, lamp, logbook."
        )
        session.commit()
        service.edit_record(
            session, record.id, {"instruction": "Describe a beekeeper's morning."}, actor="api"
        )
        session.commit()
        assert found(session, "lighthouse") == set()
        assert found(session, "beekeeper") == {"Describe a beekeeper's morning."}
        session.execute(delete(Job).where(Job.id == job.id))
        session.commit()
        session.expunge_all()
        other = make_job(session)
        add_record(session, other, "Describe a beekeeper's evening.")
        session.commit()
        assert found(session, "beekeeper") == {"Describe a beekeeper's evening."}

    def test_search_combines_with_filters_and_counts_can_be_capped(self, session: Session) -> None:
        job = make_job(session)
        for i in range(6):
            add_record(session, job, f"Write poem number {i} about rain.", input="x" if i % 2 else "")
        add_record(session, job, "Write a poem about snow.", status="rejected", reason="too_short")
        session.commit()
        assert len(found(session, "poem", status="kept", has_input=True)) == 3
        items, total, cursor = list_records(session, RecordFilter(q="poem"), limit=2, count_limit=4)
        assert (len(items), total, cursor is not None) == (2, 4, True)


class TestPages:
    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_similarity_pages_cover_every_record_once(self, session: Session, order: str) -> None:
        job = make_job(session)
        scores = [0.5, 0.2, None, 0.5, 0.9, None, 0.2, 0.5, 0.0, 0.31]
        for i, score in enumerate(scores):
            add_record(session, job, f"Record {i}", max_similarity=score, status="kept")
        session.commit()
        seen: list[tuple[float, int]] = []
        cursor = None
        while True:
            items, _, cursor = list_records(
                session,
                RecordFilter(job_id=job.id),
                limit=3,
                cursor=cursor,
                order=order,
                sort="similarity",  # type: ignore[arg-type]
            )
            seen.extend((r.max_similarity if r.max_similarity is not None else -1.0, r.id) for r in items)
            if cursor is None:
                break
        assert len(seen) == len(scores) == len(set(seen))
        assert seen == sorted(seen, reverse=order == "desc")

    def test_id_pages_in_both_directions(self, session: Session) -> None:
        job = make_job(session)
        ids = [add_record(session, job, f"Task {i}").id for i in range(7)]
        session.commit()
        for order, expected in (("asc", ids), ("desc", ids[::-1])):
            seen: list[int] = []
            cursor = None
            while True:
                items, total, cursor = list_records(
                    session, RecordFilter(), limit=3, cursor=cursor, order=order
                )  # type: ignore[arg-type]
                assert total == 7
                seen.extend(r.id for r in items)
                if cursor is None:
                    break
            assert seen == expected
