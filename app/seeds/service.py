"""Seed sets: the built-in ones shipped in ``seed_tasks/`` and those users upload."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.generation.languages import LANGUAGES, get_language
from app.models import SeedSet, SeedTask
from app.seeds.parsing import ParsedSeedTask, parse_seed_file

logger = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _add_tasks(seed_set: SeedSet, tasks: list[ParsedSeedTask]) -> None:
    for position, task in enumerate(tasks):
        seed_set.tasks.append(
            SeedTask(
                position=position,
                name=task.name,
                instruction=task.instruction,
                input=task.input,
                output=task.output,
                is_classification=task.is_classification,
                instances=task.instances,
            )
        )
    seed_set.task_count = len(tasks)


def sync_builtin_seed_sets(session: Session, seed_dir: Path) -> list[str]:
    """Load ``seed_tasks/<language>.jsonl`` files that the database does not hold yet (or that changed)."""
    loaded = []
    for path in sorted(seed_dir.glob("*.jsonl")):
        name = path.stem
        language = name if get_language(name) else "en"
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        existing = session.scalar(select(SeedSet).where(SeedSet.name == name))
        if existing is not None and (existing.sha256 == digest or existing.source != "builtin"):
            continue
        tasks = parse_seed_file(data)  # a broken built-in set is a bug: let it raise
        if existing is not None:
            existing.tasks.clear()
            session.flush()
            seed_set = existing
            seed_set.sha256 = digest
        else:
            seed_set = SeedSet(
                name=name,
                language=language,
                source="builtin",
                sha256=digest,
                description=f"Built-in {name} set",
            )
            session.add(seed_set)
        _add_tasks(seed_set, tasks)
        loaded.append(name)
    session.flush()
    if loaded:
        logger.info("loaded built-in seed sets: %s", ", ".join(loaded))
    return loaded


def upload_seed_set(
    session: Session, *, name: str, language: str, data: bytes, description: str = ""
) -> SeedSet:
    if not NAME_RE.match(name):
        raise InvalidInput(
            "name: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if get_language(language) is None:
        raise InvalidInput(
            f"language: unsupported language '{language}'; supported: {', '.join(sorted(LANGUAGES))}"
        )
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"the seed file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    if session.scalar(select(SeedSet.id).where(SeedSet.name == name)) is not None:
        raise Conflict(f"name: a seed set named '{name}' already exists; pick another name")
    tasks = parse_seed_file(data)
    seed_set = SeedSet(
        name=name,
        language=language.lower(),
        source="upload",
        sha256=hashlib.sha256(data).hexdigest(),
        description=description,
    )
    session.add(seed_set)
    _add_tasks(seed_set, tasks)
    session.flush()
    return seed_set


def list_seed_sets(session: Session) -> list[SeedSet]:
    return list(session.scalars(select(SeedSet).order_by(SeedSet.name)))


def get_seed_set(session: Session, name: str) -> SeedSet:
    seed_set = session.scalar(select(SeedSet).where(SeedSet.name == name))
    if seed_set is None:
        raise NotFound(f"seed set '{name}' does not exist")
    return seed_set


def count_seed_sets(session: Session) -> int:
    return session.scalar(select(func.count(SeedSet.id))) or 0
