"""Immutable export snapshots: select records, split, decontaminate, render, hash, store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.dedupe import make_index, tokenizer_for_language
from app.errors import InvalidInput, NotFound
from app.export.formats import ALPACA_PROMPT, SPLIT_SALT, split_of, to_row
from app.export.schemas import ExportCreate
from app.generation.prompts import default_template_source
from app.models import Export, ExportLine, Job, Record, RecordStatus, SeedSet

BATCH = 2000


class ExportNotFound(NotFound):
    pass


def _question_texts(session: Session, names: list[str]) -> list[str]:
    if not names:
        return []
    try:
        from app.models.evaluation import Question, QuestionSet
    except ImportError:  # pragma: no cover - evaluation tables not installed
        raise InvalidInput("decontaminate_question_sets: question sets are not available") from None
    texts: list[str] = []
    for name in names:
        question_set = session.scalar(select(QuestionSet).where(QuestionSet.name == name))
        if question_set is None:
            raise InvalidInput(f"decontaminate_question_sets: unknown question set '{name}'")
        for question in session.scalars(select(Question).where(Question.question_set_id == question_set.id)):
            texts.extend(t for t in (question.turns or []) if isinstance(t, str))
    return texts


def _job_settings(session: Session, job_ids: list[int]) -> list[dict[str, Any]]:
    jobs = session.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id)).all() if job_ids else []
    names = dict(session.execute(select(SeedSet.id, SeedSet.name)).all())
    default_template = default_template_source()
    return [
        {
            "id": job.id,
            "model": job.model,
            "base_url": job.base_url,
            "seed_set": names.get(job.seed_set_id),
            "language": job.language,
            "api": job.api,
            "examples_per_prompt": job.examples_per_prompt,
            "records_per_request": job.records_per_request,
            "generated_examples": job.generated_examples,
            "temperature": job.temperature,
            "top_p": job.top_p,
            "max_tokens": job.max_tokens,
            "rouge_threshold": job.rouge_threshold,
            "filters": job.filters,
            "generation_prompt_template": job.prompt_template or default_template,
            "kept": job.kept,
            "cost_usd": job.cost_usd,
        }
        for job in jobs
    ]


def create_export(session: Session, data: ExportCreate) -> Export:
    query = select(Record.id, Record.instruction, Record.input, Record.output, Record.job_id, Record.language)
    query = query.where(Record.status == RecordStatus.KEPT, Record.review_status.in_(data.review_status))
    if data.job_ids:
        missing = set(data.job_ids) - set(session.scalars(select(Job.id).where(Job.id.in_(data.job_ids))))
        if missing:
            raise InvalidInput(f"job_ids: unknown job(s) {', '.join(map(str, sorted(missing)))}")
        query = query.where(Record.job_id.in_(data.job_ids))
    if data.language:
        query = query.where(Record.language == data.language)
    eval_texts = list(data.decontaminate_texts) + _question_texts(session, data.decontaminate_question_sets)
    indexes = {}
    if eval_texts:
        for tokenizer in ("rouge", "unicode"):
            index = make_index(threshold=data.decontaminate_threshold, tokenizer=tokenizer)
            index.add_many((i, text) for i, text in enumerate(eval_texts))
            indexes[tokenizer] = index

    export = Export(
        name=data.name,
        format=data.format,
        filters=data.model_dump(include={"job_ids", "review_status", "language"}),
        validation_ratio=data.validation_ratio,
        sha256="",
    )
    session.add(export)
    session.flush()
    hashes = {"train": hashlib.sha256(), "validation": hashlib.sha256()}
    counts = {"train": 0, "validation": 0}
    size = 0
    dropped = 0
    dropped_examples: list[dict[str, Any]] = []
    jobs_seen: dict[int, int] = {}
    pending: list[dict[str, Any]] = []
    last_id = 0
    while True:
        rows = session.execute(query.where(Record.id > last_id).order_by(Record.id).limit(BATCH)).all()
        if not rows:
            break
        last_id = rows[-1].id
        for row in rows:
            if indexes:
                decision = indexes[tokenizer_for_language(row.language)].check(row.instruction, k=1)
                if decision.is_duplicate:
                    dropped += 1
                    if len(dropped_examples) < 20:
                        dropped_examples.append(
                            {
                                "record_id": row.id,
                                "score": decision.max_score,
                                "matched": decision.neighbours[0].text if decision.neighbours else None,
                            }
                        )
                    continue
            split = split_of(row.instruction, row.input, data.validation_ratio)
            line = json.dumps(to_row(data.format, row.instruction, row.input, row.output), ensure_ascii=False)
            encoded = (line + "\n").encode("utf-8")
            hashes[split].update(encoded)
            size += len(encoded) if split == "train" else 0
            pending.append(
                {
                    "export_id": export.id,
                    "split": split,
                    "position": counts[split],
                    "record_id": row.id,
                    "line": line,
                }
            )
            counts[split] += 1
            jobs_seen[row.job_id] = jobs_seen.get(row.job_id, 0) + 1
        session.execute(insert(ExportLine), pending)
        pending = []
    if counts["train"] == 0:
        raise InvalidInput(
            "the filters match no kept records"
            + (" with review status " + ", ".join(data.review_status) if data.review_status else "")
            + ": approve records in review, or pass review_status"
        )
    export.record_count = counts["train"]
    export.validation_count = counts["validation"]
    export.sha256 = hashes["train"].hexdigest()
    export.validation_sha256 = hashes["validation"].hexdigest() if counts["validation"] else None
    export.size_bytes = size
    export.decontaminated = dropped
    export.manifest = {
        "format": data.format,
        "created_at": utcnow().isoformat(),
        "filters": export.filters,
        "counts": {
            "train": counts["train"],
            "validation": counts["validation"],
            "decontaminated": dropped,
            "by_job": {str(k): v for k, v in sorted(jobs_seen.items())},
        },
        "split": {
            "method": "sha256(salt, instruction, input) < validation_ratio",
            "salt": SPLIT_SALT,
            "validation_ratio": data.validation_ratio,
        },
        "decontamination": {
            "texts": len(eval_texts),
            "question_sets": data.decontaminate_question_sets,
            "threshold": data.decontaminate_threshold,
            "dropped": dropped,
            "examples": dropped_examples,
        }
        if eval_texts
        else None,
        "prompt_template": ALPACA_PROMPT,
        "sha256": export.sha256,
        "validation_sha256": export.validation_sha256,
        "jobs": _job_settings(session, sorted(jobs_seen)),
    }
    session.flush()
    return export


def get_export(session: Session, export_id: int) -> Export:
    export = session.get(Export, export_id)
    if export is None:
        raise ExportNotFound(f"export {export_id} does not exist")
    return export


def list_exports(session: Session, *, limit: int, before: int | None) -> tuple[list[Export], int]:
    query = select(Export).order_by(Export.id.desc())
    if before is not None:
        query = query.where(Export.id < before)
    return list(session.scalars(query.limit(limit))), session.scalar(select(func.count(Export.id))) or 0


def iter_lines(session: Session, export_id: int, split: str) -> Iterator[bytes]:
    """The snapshot's bytes, a batch at a time: memory stays flat however large the export is."""
    last = -1
    while True:
        rows = session.execute(
            select(ExportLine.position, ExportLine.line)
            .where(ExportLine.export_id == export_id, ExportLine.split == split, ExportLine.position > last)
            .order_by(ExportLine.position)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield "".join(row.line + "\n" for row in rows).encode("utf-8")
        last = rows[-1].position


def dataset_card(export: Export) -> str:
    manifest = export.manifest
    jobs = manifest.get("jobs", [])
    teachers = sorted({f"{j['model']}" for j in jobs})
    lines = [
        f"# Pasture export {export.id}" + (f": {export.name}" if export.name else ""),
        "",
        f"- Format: `{export.format}`",
        f"- Training records: {export.record_count} (sha256 `{export.sha256}`)",
        f"- Validation records: {export.validation_count}"
        + (f" (sha256 `{export.validation_sha256}`)" if export.validation_sha256 else ""),
        f"- Created: {export.created_at.isoformat()}",
        f"- Review statuses: {', '.join(export.filters.get('review_status') or [])}",
        f"- Teachers: {', '.join(teachers) or 'none'}",
        f"- Decontaminated (dropped as near-duplicates of evaluation prompts): {export.decontaminated}",
        "",
        "## Generation",
        "",
        "| job | teacher | seed set | language | temperature | ROUGE-L threshold | kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for job in jobs:
        lines.append(
            f"| {job['id']} | {job['model']} | {job['seed_set']} | {job['language']} | {job['temperature']} "
            f"| {job['rouge_threshold']} | {job['kept']} |"
        )
    lines += [
        "",
        "## Training prompt",
        "",
        "Alpaca's layout; the response is followed by the tokenizer's EOS token and only the response "
        "tokens (and EOS) carry loss.",
        "",
        "```",
        ALPACA_PROMPT["with_input"],
        "```",
        "",
        "## Loading",
        "",
        "- LLaMA-Factory `dataset_info.json`: "
        f'`"pasture_{export.id}": {_llama_factory_entry(export.format)}`',
        f"- axolotl: `datasets: [{_axolotl_entry(export.format)}]`",
        "- Alpaca's training recipe reads the `alpaca` format as it is (a JSON list: "
        "`jq -s . train.jsonl > alpaca_data.json`).",
        "",
    ]
    return "\n".join(lines)


def _llama_factory_entry(fmt: str) -> str:
    if fmt == "alpaca":
        columns = '{"prompt": "instruction", "query": "input", "response": "output"}'
        return '{"file_name": "train.jsonl", "columns": ' + columns + "}"
    if fmt == "sharegpt":
        return (
            '{"file_name": "train.jsonl", "formatting": "sharegpt", "columns": {"messages": "conversations"}}'
        )
    tags = '{"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}'
    return (
        '{"file_name": "train.jsonl", "formatting": "sharegpt", "columns": {"messages": "messages"}, "tags": '
        + (tags + "}")
    )


def _axolotl_entry(fmt: str) -> str:
    if fmt == "alpaca":
        return "{path: train.jsonl, type: alpaca}"
    if fmt == "sharegpt":
        return (
            "{path: train.jsonl, type: chat_template, field_messages: conversations, "
            "message_property_mappings: {role: from, content: value}}"
        )
    return "{path: train.jsonl, type: chat_template, field_messages: messages}"
