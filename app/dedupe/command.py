"""``pasture dedupe``: drop near-duplicate instructions from a JSONL file, keeping the input order.

    pasture dedupe IN.jsonl --out OUT.jsonl [--threshold 0.7] [--against SEEDS.jsonl]
                            [--tokenizer rouge|unicode] [--field instruction]

A record is kept when its highest ROUGE-L F-measure against the records kept before it (and against the
``--against`` records) is at most the threshold. Kept lines are written byte for byte as read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.dedupe import make_index
from app.dedupe.stream import dedupe_stream
from app.dedupe.tokenizers import ROUGE, TOKENIZER_NAMES

SEED_FIELD = "instruction"  # self-instruct seed files keep the task text here


class InputError(Exception):
    """A file that cannot be read as the JSONL the command expects; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Record:
    line: str  # as read, without its line break
    text: str  # the field compared


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dedupe",
        help="drop near-duplicate instructions (ROUGE-L) from a JSONL file",
        description=(
            "Keep, in input order, each record whose highest ROUGE-L F-measure against the records kept "
            "before it (and against --against) is at most the threshold."
        ),
    )
    parser.add_argument("input", type=Path, metavar="IN.jsonl", help="JSON objects, one a line")
    parser.add_argument("--out", required=True, type=Path, metavar="OUT.jsonl", help="where kept lines go")
    parser.add_argument(
        "--threshold",
        type=_threshold,
        default=0.7,
        help="reject above this F-measure, in (0, 1] (default 0.7)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        action="append",
        default=[],
        metavar="SEEDS.jsonl",
        help="records every input is also compared with, e.g. self-instruct seed tasks (repeatable)",
    )
    parser.add_argument(
        "--tokenizer",
        choices=TOKENIZER_NAMES,
        default=ROUGE,
        help="rouge: rouge-score's English tokenizer; unicode: any language (default rouge)",
    )
    parser.add_argument("--field", default="instruction", help="the field compared (default instruction)")
    parser.set_defaults(func=run)


def _threshold(value: str) -> float:
    try:
        threshold = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if math.isnan(threshold) or not 0.0 < threshold <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return threshold


def run(args: argparse.Namespace) -> int:
    """Run the command; 0 on success, 2 on unusable input (reported on stderr, no output written)."""
    started = time.perf_counter()
    try:
        records = read_records(args.input, args.field)
        seeds = [record for path in args.against for record in read_records(path, args.field, SEED_FIELD)]
    except InputError as error:
        print(f"pasture dedupe: {error}", file=sys.stderr)
        return 2
    index = make_index(threshold=args.threshold, tokenizer=args.tokenizer)
    index.add_many((f"against:{n}", seed.text) for n, seed in enumerate(seeds))
    decisions = dedupe_stream(((number, record.text) for number, record in enumerate(records)), index)
    kept = [record for record, (_, is_kept) in zip(records, decisions, strict=True) if is_kept]
    try:
        write_atomically(args.out, (record.line for record in kept))
    except OSError as error:
        print(f"pasture dedupe: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(
        f"dedupe: kept {len(kept)}, rejected {len(records) - len(kept)} of {len(records)} records "
        f"(ROUGE-L > {args.threshold}, {args.tokenizer} tokens, {len(seeds)} against) "
        f"in {time.perf_counter() - started:.2f} s"
    )
    return 0


def read_records(path: Path, field: str, fallback_field: str | None = None) -> list[Record]:
    """Every non-blank line of ``path`` as a Record; InputError names the first line that is not usable."""
    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    records: list[Record] = []
    for number, raw in enumerate(raw_lines, start=1):
        where = f"{path}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}: not UTF-8") from None
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(value).__name__}")
        name = field if field in value or fallback_field is None else fallback_field
        text = value.get(name)
        if not isinstance(text, str):
            problem = "has no" if text is None else "has a non-string"
            raise InputError(f"{where}: record {problem} {name!r} field")
        records.append(Record(line=line.rstrip("\r"), text=text))
    return records


def write_atomically(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` through a temporary file in the same folder, so readers never see half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            for line in lines:
                out.write(line)
                out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.dedupe.command dedupe ...``: the command without the rest of the pasture CLI."""
    parser = argparse.ArgumentParser(prog="pasture")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
