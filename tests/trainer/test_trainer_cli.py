"""The real `pasture-worker train` entry point, run in a subprocess on a 2-layer model on the CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from app.trainer.cli import main
from app.trainer.data import file_sha256
from app.trainer.template import ALPACA

pytestmark = [
    pytest.mark.slow,
    # peft asks transformers 5 for a renamed attribute when it wraps a model; harmless.
    pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning"),
]

RunCli = Callable[..., subprocess.CompletedProcess[str]]
WriteJsonl = Callable[[Path, list[dict[str, Any]]], Path]


def _train_args(train_file: Path, base_model_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--data", str(train_file),
        "--base-model", str(base_model_dir),
        "--out", str(out),
        "--batch-size", "16",
        "--micro-batch-size", "4",
        "--logging-steps", "1",
        *extra,
    ]  # fmt: skip


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _prompt_ids(tokenizer: Any, instruction: str) -> dict[str, torch.Tensor]:
    return tokenizer(ALPACA.render(instruction), return_tensors="pt")


@pytest.fixture(scope="class")
def lora_run(
    tmp_path_factory: pytest.TempPathFactory,
    base_model_dir: Path,
    records: list[dict[str, str]],
    write_jsonl: WriteJsonl,
    run_cli: RunCli,
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """One LoRA run with validation, an export manifest and --merge; the tests below read its outputs."""
    folder = tmp_path_factory.mktemp("lora")
    train_file = write_jsonl(folder / "train.jsonl", records)
    validation_file = write_jsonl(folder / "validation.jsonl", records[:4])
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"export_id": 7, "format": "alpaca"}), encoding="utf-8")
    out = folder / "out"
    result = run_cli(
        *_train_args(train_file, base_model_dir, out, "--max-steps", "30", "--lr", "1e-2", "--merge"),
        "--validation", str(validation_file),
        "--manifest", str(manifest),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out, train_file, result


class TestLoraTraining:
    def test_lowers_the_loss_and_reports_progress(
        self, lora_run: tuple[Path, Path, subprocess.CompletedProcess[str]]
    ) -> None:
        out, _, result = lora_run
        metrics = _read(out / "metrics.json")
        assert metrics["global_step"] == 30
        assert metrics["train_loss"] < 0.5 * metrics["initial_train_loss"]
        assert metrics["eval_loss"] is not None
        assert "step 30/30" in result.stderr and "tok/s" in result.stderr

    def test_writes_adapter_config_manifest_template_and_metrics(
        self, lora_run: tuple[Path, Path, subprocess.CompletedProcess[str]], records: list[dict[str, str]]
    ) -> None:
        out, train_file, _ = lora_run
        for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json"):
            assert (out / "adapter" / name).is_file(), name
        config = _read(out / "pasture_train_config.json")
        assert (config["method"], config["learning_rate"], config["max_steps"]) == ("lora", 0.01, 30)
        manifest = _read(out / "data_manifest.json")
        assert manifest["train"]["sha256"] == file_sha256(train_file)
        assert manifest["train"]["rows"] == len(records)
        assert (manifest["train"]["truncated"], manifest["train"]["dropped_too_long"]) == (0, 0)
        assert manifest["validation"]["rows"] == 4
        assert manifest["export_manifest"] == {"export_id": 7, "format": "alpaca"}
        assert _read(out / "prompt_template.json") == ALPACA.to_dict()
        assert not (out / "checkpoints").exists(), "checkpoints are removed after a successful run"

    def test_the_adapter_reloads_on_its_base_and_generates(
        self, lora_run: tuple[Path, Path, subprocess.CompletedProcess[str]], base_model_dir: Path
    ) -> None:
        from peft import PeftModel
        from transformers import AutoTokenizer, LlamaForCausalLM

        out, _, _ = lora_run
        tokenizer = AutoTokenizer.from_pretrained(out / "adapter")
        model = PeftModel.from_pretrained(
            LlamaForCausalLM.from_pretrained(base_model_dir), str(out / "adapter")
        )
        inputs = _prompt_ids(tokenizer, "What do bees make?")
        generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        assert generated.shape[1] > inputs["input_ids"].shape[1]

    def test_merged_weights_load_as_plain_llama_and_match_the_adapter(
        self, lora_run: tuple[Path, Path, subprocess.CompletedProcess[str]], base_model_dir: Path
    ) -> None:
        from peft import PeftModel
        from transformers import AutoTokenizer, LlamaForCausalLM

        out, _, _ = lora_run
        merged = LlamaForCausalLM.from_pretrained(out / "merged").eval()
        adapted = PeftModel.from_pretrained(
            LlamaForCausalLM.from_pretrained(base_model_dir), str(out / "adapter")
        ).eval()
        inputs = _prompt_ids(AutoTokenizer.from_pretrained(out / "merged"), "Say hello.")
        with torch.no_grad():
            torch.testing.assert_close(
                merged(**inputs).logits, adapted(**inputs).logits, atol=1e-4, rtol=1e-4
            )
        assert (
            merged.generate(**inputs, max_new_tokens=4, do_sample=False).shape[1]
            > inputs["input_ids"].shape[1]
        )


class TestFullFineTuning:
    def test_runs_a_few_steps_and_saves_a_plain_model(
        self, tmp_path: Path, train_file: Path, base_model_dir: Path
    ) -> None:
        from transformers import LlamaForCausalLM

        out = tmp_path / "out"
        assert main(_train_args(train_file, base_model_dir, out, "--method", "full", "--max-steps", "3")) == 0

        assert _read(out / "metrics.json")["global_step"] == 3
        assert _read(out / "pasture_train_config.json")["learning_rate"] == 2e-5
        trained = LlamaForCausalLM.from_pretrained(out / "model")
        base = LlamaForCausalLM.from_pretrained(base_model_dir)
        assert not torch.equal(
            trained.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight
        )
        assert (out / "model" / "tokenizer.json").is_file()


class TestResumeAfterCrash:
    def test_a_killed_run_resumes_from_its_checkpoint_and_ends_at_the_right_step(
        self,
        tmp_path: Path,
        train_file: Path,
        base_model_dir: Path,
        cli_command: tuple[list[str], dict[str, str], Path],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        argv, env, cwd = cli_command
        out = tmp_path / "out"
        args = _train_args(train_file, base_model_dir, out, "--max-steps", "30", "--save-steps", "3")
        process = subprocess.Popen(
            [*argv, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            first_checkpoint = out / "checkpoints" / "checkpoint-3" / "trainer_state.json"
            deadline = time.monotonic() + 60
            while not first_checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
        assert not (out / "metrics.json").exists()

        assert main(args) == 2, "an unfinished run is not silently overwritten"
        assert "pass --resume" in capsys.readouterr().err

        assert main([*args, "--resume"]) == 0
        assert "resuming from" in capsys.readouterr().err
        metrics = _read(out / "metrics.json")
        assert metrics["global_step"] == 30
        assert metrics["resumed_from_step"] >= 3
        assert metrics["loss_history"][0]["step"] == 1, "the log from before the crash is kept"


class TestCommandLineErrors:
    def test_an_invalid_config_is_one_line_listing_every_problem(
        self, tmp_path: Path, train_file: Path, base_model_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(
            _train_args(
                train_file, base_model_dir, tmp_path / "out",
                "--epochs", "0", "--lora-dropout", "2", "--merge", "--method", "full",
            )
        )  # fmt: skip
        error = capsys.readouterr().err.strip()
        assert code == 2
        assert "\n" not in error
        assert error.startswith("pasture-worker train: error: invalid training configuration:")
        for fragment in ("epochs must be positive", "lora_dropout", "merge applies to LoRA only"):
            assert fragment in error

    def test_a_missing_option_is_a_one_line_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as raised:
            main(["train", "--data", "x.jsonl"])
        assert raised.value.code == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and "--base-model" in error

    def test_malformed_data_names_the_line(
        self, tmp_path: Path, base_model_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        data = tmp_path / "bad.jsonl"
        data.write_text('{"instruction": "Hi.", "output": ""}\n', encoding="utf-8")
        assert main(_train_args(data, base_model_dir, tmp_path / "out")) == 2
        assert "line 1: output must be a non-empty string" in capsys.readouterr().err

    def test_a_base_model_that_is_not_there_is_a_readable_error(
        self, tmp_path: Path, train_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(_train_args(train_file, tmp_path / "no-such-model", tmp_path / "out")) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and "cannot load the tokenizer" in error


def test_module_runs_as_a_script(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0 and "train" in result.stdout and "run" in result.stdout
