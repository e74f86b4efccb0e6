from __future__ import annotations

from pathlib import Path

import pytest

from app.trainer.config import LLAMA_PROJECTIONS, TrainConfig
from app.trainer.errors import ConfigError
from app.trainer.train import gradient_accumulation_steps


def _config(tmp_path: Path, train_file: Path, **overrides: object) -> TrainConfig:
    return TrainConfig.from_dict(
        {"data_path": str(train_file), "base_model": "tiny", "output_dir": str(tmp_path / "out"), **overrides}
    )


class TestDefaults:
    def test_follow_the_alpaca_recipe(self, tmp_path: Path, train_file: Path) -> None:
        config = _config(tmp_path, train_file)
        assert (config.epochs, config.batch_size, config.max_length) == (3.0, 128, 512)
        assert (config.lr_scheduler, config.warmup_ratio, config.weight_decay) == ("cosine", 0.03, 0.0)
        assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (16, 32, 0.05)
        assert config.lora_target_modules == LLAMA_PROJECTIONS
        assert config.check() is config

    def test_learning_rate_depends_on_the_method(self, tmp_path: Path, train_file: Path) -> None:
        assert _config(tmp_path, train_file, method="lora").resolved().learning_rate == 3e-4
        assert _config(tmp_path, train_file, method="full").resolved().learning_rate == 2e-5
        assert _config(tmp_path, train_file, learning_rate=1e-3).resolved().learning_rate == 1e-3

    def test_round_trips_through_json(self, tmp_path: Path, train_file: Path) -> None:
        config = _config(tmp_path, train_file, lora_target_modules="q_proj,v_proj").resolved()
        assert TrainConfig.from_dict(config.to_dict()) == config
        assert config.lora_target_modules == ("q_proj", "v_proj")


class TestValidation:
    def test_reports_every_problem_at_once(self, tmp_path: Path, train_file: Path) -> None:
        config = _config(
            tmp_path,
            train_file,
            method="qlora",
            epochs=0,
            learning_rate=-1.0,
            batch_size=128,
            micro_batch_size=3,
            warmup_ratio=1.5,
            overlong="wrap",
            lora_dropout=1.0,
            eval_steps=10,
            validation_path=str(tmp_path / "missing.jsonl"),
        )
        with pytest.raises(ConfigError) as raised:
            config.check()
        problems = raised.value.problems
        expected = [
            "validation_path",
            "method must be one of lora, full",
            "epochs must be positive",
            "learning_rate must be positive",
            "multiple of micro_batch_size",
            "warmup_ratio",
            "overlong",
            "lora_dropout",
        ]
        for fragment in expected:
            assert any(fragment in problem for problem in problems), fragment
        assert len(problems) == len(expected)
        assert str(raised.value).startswith("invalid training configuration: ")
        assert "\n" not in str(raised.value)

    def test_from_dict_reports_unknown_missing_and_mistyped_fields_together(self) -> None:
        with pytest.raises(ConfigError) as raised:
            TrainConfig.from_dict({"data_path": "x.jsonl", "epochs": "three", "lora_rank": 8, "merge": "yes"})
        problems = raised.value.problems
        assert "unknown field 'lora_rank'" in problems
        assert "base_model is required" in problems and "output_dir is required" in problems
        assert any(problem.startswith("epochs: expected a number") for problem in problems)
        assert any(problem.startswith("merge: expected true or false") for problem in problems)

    def test_run_hyperparameters_may_not_choose_paths_or_contradict_the_run(
        self, train_file: Path, tmp_path: Path
    ) -> None:
        with pytest.raises(ConfigError) as raised:
            TrainConfig.from_hyperparameters(
                {"output_dir": "/etc", "method": "full", "epochs": 1},
                data_path=train_file,
                output_dir=tmp_path,
                base_model="tiny",
                method="lora",
            )
        assert raised.value.problems == [
            "hyperparameters may not set 'output_dir'; the worker decides it",
            "hyperparameters set method='full' but the run says 'lora'",
        ]

    def test_run_hyperparameters_may_repeat_a_run_field(self, train_file: Path, tmp_path: Path) -> None:
        config = TrainConfig.from_hyperparameters(
            {"method": "lora", "lora_r": 8},
            data_path=train_file,
            output_dir=tmp_path,
            base_model="tiny",
            method="lora",
        )
        assert (config.method, config.lora_r) == ("lora", 8)


class TestGradientAccumulation:
    @pytest.mark.parametrize(
        ("examples", "micro", "world", "expected"),
        [
            (52_002, 4, 4, 8),  # Alpaca: 4 per GPU x 8 x 4 GPUs = 128
            (52_002, 4, 1, 32),
            (52_002, 16, 8, 1),
            (16, 4, 1, 4),  # a tiny data set: one update per pass
            (10, 4, 1, 3),
        ],
    )
    def test_reaches_the_effective_batch_or_one_pass(
        self, tmp_path: Path, train_file: Path, examples: int, micro: int, world: int, expected: int
    ) -> None:
        config = _config(tmp_path, train_file, micro_batch_size=micro)
        assert gradient_accumulation_steps(config, examples, world) == expected
