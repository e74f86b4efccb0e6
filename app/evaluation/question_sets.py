"""Question sets: Pasture's own, shipped in ``questions/``, and uploaded ones (MT-bench / Vicuna jsonl)."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.evaluation.questions import ParsedQuestion, parse_question_file
from app.evaluation.schemas import QuestionRead, QuestionSetDetail, QuestionSetRead
from app.models import Evaluation, Question, QuestionSet

logger = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent / "questions"
DEFAULT_QUESTION_SET = "pasture-questions"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class QuestionSetNotFound(NotFound):
    pass


def _categories(questions: list[ParsedQuestion]) -> list[str]:
    seen: list[str] = []
    for question in questions:
        if question.category not in seen:
            seen.append(question.category)
    return seen


def _fill(question_set: QuestionSet, questions: list[ParsedQuestion]) -> None:
    for position, parsed in enumerate(questions):
        question_set.questions.append(
            Question(
                position=position,
                key=parsed.key,
                category=parsed.category,
                turns=parsed.turns,
                reference=parsed.reference,
            )
        )
    question_set.question_count = len(questions)
    question_set.categories = _categories(questions)


def sync_builtin_question_sets(session: Session, directory: Path = BUILTIN_DIR) -> list[str]:
    """Load the shipped ``questions/*.jsonl`` sets the database lacks. A set in use is never rewritten:
    a changed file becomes a new version only when no evaluation refers to the old one."""
    loaded = []
    for path in sorted(directory.glob("*.jsonl")):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        existing = session.scalar(select(QuestionSet).where(QuestionSet.name == path.stem))
        if existing is not None and (existing.sha256 == digest or existing.source != "builtin"):
            continue
        questions = parse_question_file(data)  # a broken built-in set is a bug: let it raise
        if existing is not None:
            in_use = session.scalar(
                select(Evaluation.id).where(Evaluation.question_set_id == existing.id).limit(1)
            )
            if in_use is not None:
                logger.warning(
                    "question set %s changed on disk but is in use; keeping the stored one", path.stem
                )
                continue
            existing.questions.clear()
            session.flush()
            question_set = existing
            question_set.sha256 = digest
        else:
            question_set = QuestionSet(
                name=path.stem,
                source="builtin",
                sha256=digest,
                description="Pasture's own questions: writing, roleplay, reasoning, math, coding, "
                "extraction, knowledge and Korean.",
            )
            session.add(question_set)
        _fill(question_set, questions)
        loaded.append(path.stem)
    session.flush()
    if loaded:
        logger.info("loaded built-in question sets: %s", ", ".join(loaded))
    return loaded


def ensure_builtin_question_sets(session: Session) -> None:
    """Load the built-in sets on first use, without failing a request that races another one doing it."""
    known = set(session.scalars(select(QuestionSet.name).where(QuestionSet.source == "builtin")))
    if all(path.stem in known for path in BUILTIN_DIR.glob("*.jsonl")):
        return
    try:
        with session.begin_nested():
            sync_builtin_question_sets(session)
    except IntegrityError:
        logger.info("built-in question sets were loaded by another request")


def upload_question_set(session: Session, *, name: str, data: bytes, description: str = "") -> QuestionSet:
    if not NAME_RE.match(name):
        raise InvalidInput(
            "name: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"the question file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    ensure_builtin_question_sets(session)
    if session.scalar(select(QuestionSet.id).where(QuestionSet.name == name)) is not None:
        raise Conflict(f"name: a question set named '{name}' already exists; pick another name")
    questions = parse_question_file(data)
    question_set = QuestionSet(
        name=name, source="upload", sha256=hashlib.sha256(data).hexdigest(), description=description
    )
    session.add(question_set)
    _fill(question_set, questions)
    session.flush()
    return question_set


def list_question_sets(session: Session) -> list[QuestionSetRead]:
    ensure_builtin_question_sets(session)
    sets = session.scalars(select(QuestionSet).order_by(QuestionSet.name))
    return [QuestionSetRead.model_validate(s) for s in sets]


def get_question_set(session: Session, name: str) -> QuestionSet:
    ensure_builtin_question_sets(session)
    question_set = session.scalar(select(QuestionSet).where(QuestionSet.name == name))
    if question_set is None:
        known = ", ".join(session.scalars(select(QuestionSet.name).order_by(QuestionSet.name)))
        raise QuestionSetNotFound(f"question set '{name}' does not exist (known: {known or 'none'})")
    return question_set


def question_read(question: Question) -> QuestionRead:
    return QuestionRead(
        question_id=question.key,
        category=question.category,
        turns=list(question.turns),
        reference=list(question.reference) if question.reference else None,
    )


def question_set_detail(question_set: QuestionSet) -> QuestionSetDetail:
    base = QuestionSetRead.model_validate(question_set).model_dump()
    return QuestionSetDetail(**base, questions=[question_read(q) for q in question_set.questions])
