from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.dedupe.command import add_parser

REPO = Path(__file__).resolve().parents[2]


def run_dedupe(*argv: str) -> int:
    """Parse and run ``dedupe`` as the pasture CLI does: its parser, then ``args.func(args)``."""
    parser = argparse.ArgumentParser(prog="pasture")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dedupe", *argv])
    return args.func(args)


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


class TestDedupeCommand:
    def test_keeps_first_of_near_duplicates_in_input_order(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        source = write_jsonl(
            tmp_path / "in.jsonl",
            [
                {"instruction": "Give three tips for staying healthy.", "output": "Sleep.", "id": 1},
                {"instruction": "Give three tips for staying healthy!", "output": "Eat.", "id": 2},
                {"instruction": "What is the capital of France?", "output": "Paris", "id": 3},
            ],
        )
        assert run_dedupe(str(source), "--out", str(tmp_path / "out.jsonl")) == 0
        kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert [record["id"] for record in kept] == [1, 3]
        summary = capsys.readouterr().out.strip().splitlines()
        assert len(summary) == 1 and "kept 2, rejected 1 of 3" in summary[0] and " s" in summary[0]

    def test_passes_kept_lines_through_byte_for_byte(self, tmp_path: Path) -> None:
        line = '{"output":  1.50, "instruction": "Résumé en une phrase", "extra": [1, {"b": null}]}'
        source = tmp_path / "in.jsonl"
        source.write_text(line + "\n\n", encoding="utf-8")
        assert run_dedupe(str(source), "--out", str(tmp_path / "out.jsonl")) == 0
        assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == line + "\n"

    def test_compares_with_the_against_set_too(self, tmp_path: Path) -> None:
        seeds = write_jsonl(
            tmp_path / "seeds.jsonl",
            [
                {
                    "id": "seed_task_0",
                    "name": "x",
                    "instruction": "Give three tips for staying healthy.",
                    "instances": [{"input": "", "output": "..."}],
                    "is_classification": False,
                }
            ],
        )
        source = write_jsonl(
            tmp_path / "in.jsonl",
            [{"instruction": "Give three tips for staying healthy!"}, {"instruction": "Name a fruit."}],
        )
        out = tmp_path / "out.jsonl"
        assert run_dedupe(str(source), "--out", str(out), "--against", str(seeds)) == 0
        assert [json.loads(line)["instruction"] for line in out.read_text().splitlines()] == ["Name a fruit."]

    def test_threshold_is_inclusive_for_keeping(self, tmp_path: Path) -> None:
        # "a b" against "a c": LCS 1 of 2 and 2 tokens scores exactly 0.5, which a 0.5 threshold keeps.
        source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a b"}, {"instruction": "a c"}])
        out = tmp_path / "out.jsonl"
        assert run_dedupe(str(source), "--out", str(out), "--threshold", "0.5") == 0
        assert len(out.read_text().splitlines()) == 2
        assert run_dedupe(str(source), "--out", str(out), "--threshold", "0.49") == 0
        assert len(out.read_text().splitlines()) == 1

    def test_dedupes_korean_with_the_unicode_tokenizer_and_another_field(self, tmp_path: Path) -> None:
        source = write_jsonl(
            tmp_path / "in.jsonl",
            [
                {"prompt": "건강을 유지하기 위한 세 가지 팁을 알려주세요."},
                {"prompt": "건강을 유지하기 위한 세 가지 팁을 알려 주세요."},
                {"prompt": "세 가지 기본 색은 무엇인가요?"},
            ],
        )
        out = tmp_path / "out.jsonl"
        assert run_dedupe(str(source), "--out", str(out), "--tokenizer", "unicode", "--field", "prompt") == 0
        assert len(out.read_text(encoding="utf-8").splitlines()) == 2

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("{not json", "in.jsonl:2: not valid JSON"),
            ("[1, 2]", "in.jsonl:2: expected a JSON object, got list"),
            ('{"output": "x"}', "in.jsonl:2: record has no 'instruction' field"),
            ('{"instruction": 7}', "in.jsonl:2: record has a non-string 'instruction' field"),
        ],
    )
    def test_reports_a_malformed_line_by_number_and_writes_nothing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
    ) -> None:
        source = tmp_path / "in.jsonl"
        source.write_text('{"instruction": "fine"}\n' + line + "\n", encoding="utf-8")
        out = tmp_path / "out.jsonl"
        assert run_dedupe(str(source), "--out", str(out)) == 2
        error = capsys.readouterr().err.strip()
        assert message in error and len(error.splitlines()) == 1
        assert list(tmp_path.iterdir()) == [source]

    def test_keeps_an_existing_output_when_the_input_is_bad(self, tmp_path: Path) -> None:
        source = tmp_path / "in.jsonl"
        source.write_bytes(b'{"instruction": "\xff"}\n')
        out = tmp_path / "out.jsonl"
        out.write_text("previous\n")
        assert run_dedupe(str(source), "--out", str(out)) == 2
        assert out.read_text() == "previous\n"

    def test_reports_a_missing_input_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_dedupe(str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "out.jsonl")) == 2
        assert "cannot read" in capsys.readouterr().err

    @pytest.mark.parametrize("threshold", ["0", "1.01", "-1", "nan", "high"])
    def test_rejects_a_threshold_outside_zero_to_one(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], threshold: str
    ) -> None:
        with pytest.raises(SystemExit) as exit_info:
            run_dedupe("in.jsonl", "--out", str(tmp_path / "out.jsonl"), "--threshold", threshold)
        assert exit_info.value.code == 2
        assert "--threshold" in capsys.readouterr().err

    def test_runs_as_a_module_in_a_subprocess(self, tmp_path: Path) -> None:
        source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a b c"}, {"instruction": "a b c"}])
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.dedupe.command",
                "dedupe",
                str(source),
                "--out",
                str(tmp_path / "o.jsonl"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "kept 1, rejected 1 of 2" in result.stdout
