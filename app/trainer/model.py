"""The model side of a run: the base model and tokenizer, LoRA adapters, and merging them back."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from app.trainer.config import TrainConfig
from app.trainer.errors import ConfigError, TrainerError


def load_tokenizer(base_model: str) -> PreTrainedTokenizerBase:
    """The base model's tokenizer, right-padded; EOS pads when it has no pad token (labels mask padding)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_model)
    except (OSError, ValueError) as error:
        raise TrainerError(f"cannot load the tokenizer of {base_model!r}: {_first_line(error)}") from error
    if tokenizer.eos_token_id is None:
        raise TrainerError(f"the tokenizer of {base_model!r} has no EOS token; responses could never end")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def load_base_model(base_model: str, dtype: torch.dtype) -> PreTrainedModel:
    """A causal LM from a local folder or a hub id, with PyTorch's fused attention (SDPA)."""
    try:
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype, attn_implementation="sdpa")
    except (OSError, ValueError) as error:
        raise TrainerError(f"cannot load the base model {base_model!r}: {_first_line(error)}") from error
    model.config.use_cache = False
    return model


def add_lora(model: PreTrainedModel, config: TrainConfig) -> PeftModel:
    """Freeze the model and wrap it with trainable LoRA adapters on `config.lora_target_modules`."""
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        bias="none",
    )
    try:
        with _quiet_peft_deprecations():
            return get_peft_model(model, lora)
    except ValueError as error:
        raise ConfigError([f"lora_target_modules: {_first_line(error)}"]) from error


def merge_adapter(
    base_model: str, adapter_dir: Path, merged_dir: Path, tokenizer: PreTrainedTokenizerBase
) -> None:
    """Write base + adapter as plain weights that load with `AutoModelForCausalLM.from_pretrained`.

    The base is reloaded on the CPU in its stored precision, so merging works the same after any
    distributed or mixed-precision training and leaves the GPUs alone.
    """
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype="auto")
    with _quiet_peft_deprecations():
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(str(merged_dir))
    tokenizer.save_pretrained(str(merged_dir))


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    total = sum(parameter.numel() for parameter in model.parameters())
    return trainable, total


@contextmanager
def _quiet_peft_deprecations() -> Iterator[None]:
    """peft still reads transformers' deprecated `is_gradient_checkpointing`, which warns on every run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
