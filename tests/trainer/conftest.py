"""Fixtures for the trainer: a tiny offline tokenizer and a 2-layer LLaMA, built once per session.

Nothing is downloaded: Hugging Face runs offline with its cache in a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="the trainer extra is not installed")
pytest.importorskip("transformers", reason="the trainer extra is not installed")
pytest.importorskip("peft", reason="the trainer extra is not installed")

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}

# Small, memorisable records; two carry an input and two are Korean.
RECORDS: list[dict[str, str]] = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well, sleep, move."},
    {"instruction": "What are the three primary colors?", "input": "", "output": "Red, blue and yellow."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour."},
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Name a fruit that is yellow.", "input": "", "output": "A banana."},
    {"instruction": "한국의 수도는 어디인가요?", "input": "", "output": "서울입니다."},
    {"instruction": "다음 문장을 영어로 번역하세요.", "input": "안녕하세요", "output": "Hello."},
    {"instruction": "Say hello.", "input": "", "output": "Hello there!"},
    {"instruction": "What is the opposite of hot?", "input": "", "output": "Cold."},
    {"instruction": "Count to three.", "input": "", "output": "One, two, three."},
    {"instruction": "Name the largest ocean.", "input": "", "output": "The Pacific Ocean."},
    {"instruction": "What do bees make?", "input": "", "output": "Honey."},
    {"instruction": "Reverse the word.", "input": "stop", "output": "pots"},
    {"instruction": "What color is the sky?", "input": "", "output": "Blue."},
    {"instruction": "Spell cat backwards.", "input": "", "output": "tac"},
    {"instruction": "How many legs does a spider have?", "input": "", "output": "Eight."},
]


@pytest.fixture(scope="session", autouse=True)
def hf_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep Hugging Face offline and away from the user's cache, and torch on one thread."""
    import torch

    saved = {key: os.environ.get(key) for key in [*OFFLINE_ENV, "HF_HOME"]}
    os.environ.update(OFFLINE_ENV)
    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf_home"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocesses: the tiny model trains fastest on one thread
    yield
    torch.set_num_threads(threads)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _corpus() -> list[str]:
    from app.trainer.template import ALPACA

    texts = [ALPACA.render("x", "y"), ALPACA.render("x")]
    for record in RECORDS:
        texts.append(ALPACA.render(record["instruction"], record["input"]) + record["output"])
    return texts * 4


@pytest.fixture(scope="session")
def tiny_tokenizer() -> Any:
    """Byte-level BPE trained here, with LLaMA's habit of a leading BOS; Korean round-trips through bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


@pytest.fixture(scope="session")
def base_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Any) -> Path:
    """A randomly initialised 2-layer, 64-wide LlamaForCausalLM saved with its tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        initializer_range=0.1,  # wide enough that LoRA alone can memorise the records
        bos_token_id=tiny_tokenizer.bos_token_id,
        eos_token_id=tiny_tokenizer.eos_token_id,
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def write_jsonl() -> Callable[[Path, list[dict[str, Any]]], Path]:
    return _write_jsonl


@pytest.fixture(scope="session")
def records() -> list[dict[str, str]]:
    """The 16 training records (shared: copy before changing)."""
    return [dict(record) for record in RECORDS]


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    return _write_jsonl(tmp_path / "train.jsonl", RECORDS)


def _cli_env() -> dict[str, str]:
    # One thread: the 2-layer model gains nothing from more, and extra threads spin badly on a busy machine.
    return {
        **os.environ,
        **OFFLINE_ENV,
        "PYTHONPATH": str(REPO_ROOT),
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="session")
def cli_command() -> tuple[list[str], dict[str, str], Path]:
    """(argv prefix, environment, working folder) for a `pasture-worker` subprocess: offline, no GPU."""
    return [sys.executable, "-m", "app.trainer.cli"], _cli_env(), REPO_ROOT


def _run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.trainer.cli", *args],
        env=_cli_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m app.trainer.cli ARGS` in a subprocess, as the console script would."""
    return _run_cli


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.trainer)
