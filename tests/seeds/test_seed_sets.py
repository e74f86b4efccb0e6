from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.generation.languages import get_language, language_share
from app.seeds.parsing import SeedFileError, parse_seed_file
from tests.conftest import LiveServer

SEED_DIR = PROJECT_ROOT / "seed_tasks"


class TestBuiltInSets:
    @pytest.mark.parametrize(("name", "minimum"), [("en", 175), ("ko", 60)])
    def test_sets_are_valid_and_large_enough(self, name: str, minimum: int) -> None:
        tasks = parse_seed_file((SEED_DIR / f"{name}.jsonl").read_bytes())
        assert len(tasks) >= minimum
        assert len({t.instruction for t in tasks}) == len(tasks)
        with_input = sum(1 for t in tasks if t.input)
        assert 0.2 < with_input / len(tasks) < 0.7
        assert any(t.is_classification for t in tasks)

    def test_korean_set_is_korean(self) -> None:
        korean = get_language("ko")
        assert korean is not None
        tasks = parse_seed_file((SEED_DIR / "ko.jsonl").read_bytes())
        shares = [language_share(t.instruction, korean) or 0 for t in tasks]
        assert sum(s > 0.5 for s in shares) / len(shares) > 0.9

    def test_ids_follow_the_self_instruct_layout(self) -> None:
        for path in SEED_DIR.glob("*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                item = json.loads(line)
                assert set(item) == {"id", "name", "instruction", "instances", "is_classification"}


class TestParseSeedFile:
    def test_self_instruct_jsonl(self) -> None:
        line = {
            "id": "t1",
            "name": "n",
            "instruction": "Add the numbers.",
            "is_classification": False,
            "instances": [{"input": "2 and 3", "output": "5"}],
        }
        tasks = parse_seed_file(json.dumps(line))
        assert tasks[0].input == "2 and 3"
        assert tasks[0].output == "5"

    def test_alpaca_json_list(self) -> None:
        data = json.dumps([{"instruction": "Say hi.", "input": "", "output": "Hi!"}])
        assert parse_seed_file(data)[0].output == "Hi!"

    def test_errors_name_the_line_and_the_field(self) -> None:
        lines = [
            json.dumps({"instruction": "Fine one.", "output": "ok"}),
            json.dumps({"instruction": 3, "output": "x"}),
            "{broken",
            json.dumps({"instruction": "No output here.", "instances": [{"input": "a", "output": ""}]}),
        ]
        with pytest.raises(SeedFileError) as info:
            parse_seed_file("\n".join(lines))
        assert info.value.message.startswith("line 2: field 'instruction' must be a string")
        assert info.value.detail == [
            "line 2: field 'instruction' must be a string, got a int",
            "line 3: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
            "line 4: field 'instances[0].output' must not be empty",
        ]

    def test_empty_file(self) -> None:
        with pytest.raises(SeedFileError, match="empty"):
            parse_seed_file(b"")


class TestSeedSetEndpoints:
    def test_builtin_sets_are_listed(self, live_server: LiveServer) -> None:
        names = {s["name"]: s for s in live_server.client.get("/api/v1/seed-sets").json()}
        assert names["en"]["task_count"] >= 175
        assert names["ko"]["language"] == "ko"

    def test_upload_then_use_it(self, live_server: LiveServer, tmp_path: Path) -> None:
        lines = [
            json.dumps({"instruction": f"Name a fruit that starts with the letter {c}.", "output": "x"})
            for c in "ABCDE"
        ]
        response = live_server.client.post(
            "/api/v1/seed-sets", params={"name": "fruits", "language": "en"}, content="\n".join(lines)
        )
        assert response.status_code == 201, response.text
        assert response.json()["task_count"] == 5
        detail = live_server.client.get("/api/v1/seed-sets/fruits").json()
        assert len(detail["tasks"]) == 5
        job = live_server.client.post("/api/v1/jobs", json={"target": 3, "model": "m", "seed_set": "fruits"})
        assert job.status_code == 201

    def test_malformed_upload_names_the_line(self, live_server: LiveServer) -> None:
        body = json.dumps({"instruction": "ok one", "output": "x"}) + "\n" + json.dumps({"output": "y"})
        response = live_server.client.post("/api/v1/seed-sets", params={"name": "bad"}, content=body)
        assert response.status_code == 422
        assert response.json()["error"].startswith("line 2: field 'instruction'")
        assert live_server.client.get("/api/v1/seed-sets/bad").status_code == 404

    def test_duplicate_name_conflicts(self, live_server: LiveServer) -> None:
        body = json.dumps({"instruction": "ok one", "output": "x"})
        response = live_server.client.post("/api/v1/seed-sets", params={"name": "en"}, content=body)
        assert response.status_code == 409
