from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.trainer.errors import ConfigError
from app.trainer.template import ALPACA, load_template


class TestAlpacaTemplate:
    def test_without_input_matches_the_documented_text(self) -> None:
        assert ALPACA.render("Name a color.") == (
            "Below is an instruction that describes a task. "
            "Write a response that appropriately completes the request.\n\n"
            "### Instruction:\nName a color.\n\n"
            "### Response:\n"
        )

    def test_with_input_matches_the_documented_text(self) -> None:
        assert ALPACA.render("Translate to French.", "Good morning") == (
            "Below is an instruction that describes a task, paired with an input that provides further "
            "context. Write a response that appropriately completes the request.\n\n"
            "### Instruction:\nTranslate to French.\n\n"
            "### Input:\nGood morning\n\n"
            "### Response:\n"
        )

    def test_whitespace_only_input_counts_as_no_input(self) -> None:
        assert ALPACA.render("Say hi.", "  \n") == ALPACA.render("Say hi.")

    def test_braces_in_records_are_kept_verbatim(self) -> None:
        prompt = ALPACA.render("Format {name} as JSON.", "{'a': 1}")
        assert "Format {name} as JSON." in prompt and "{'a': 1}" in prompt


class TestLoadTemplate:
    def test_a_saved_template_file_round_trips(self, tmp_path: Path) -> None:
        path = tmp_path / "prompt_template.json"
        path.write_text(json.dumps(ALPACA.to_dict()), encoding="utf-8")
        assert load_template(str(path)) == ALPACA

    def test_an_unknown_name_says_what_exists(self) -> None:
        with pytest.raises(ConfigError, match="alpaca"):
            load_template("vicuna")
