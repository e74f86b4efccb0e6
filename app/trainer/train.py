"""One fine-tuning run: `setup(config)` builds everything, `fit(session)` trains and writes the outputs.

Runs the same under `python -m app.trainer.cli train`, `accelerate launch -m app.trainer.cli train` and
`torchrun`: the Hugging Face `Trainer` handles the distribution, and only the main process writes
reports and artifacts.
"""

from __future__ import annotations

import gc
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import (
    PreTrainedTokenizerBase,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from app.trainer.artifacts import OutputLayout, read_json, write_json
from app.trainer.config import TrainConfig
from app.trainer.data import (
    CompletionCollator,
    EncodingStats,
    ExampleEncoder,
    SupervisedDataset,
    file_sha256,
    read_alpaca_jsonl,
)
from app.trainer.errors import ConfigError, DataError
from app.trainer.model import add_lora, count_parameters, load_base_model, load_tokenizer, merge_adapter
from app.trainer.reporting import ConsoleReporter, Progress, ProgressReporter
from app.trainer.template import load_template


@dataclass(frozen=True)
class Runtime:
    """Where and how this process trains."""

    device: Literal["cuda", "cpu"]
    bf16: bool
    gradient_checkpointing: bool
    rank: int
    world_size: int
    fsdp: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect_runtime(config: TrainConfig) -> Runtime:
    cuda = torch.cuda.is_available()
    if config.precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise ConfigError(["precision bf16 was asked for but this GPU does not support it; use fp32 or auto"])
    bf16 = config.precision == "bf16" or (
        config.precision == "auto" and cuda and torch.cuda.is_bf16_supported()
    )
    # Under FSDP the accelerate config owns activation checkpointing (fsdp_activation_checkpointing).
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true")
    checkpointing = config.gradient_checkpointing if config.gradient_checkpointing is not None else cuda
    return Runtime(
        device="cuda" if cuda else "cpu",
        bf16=bf16,
        gradient_checkpointing=checkpointing and not fsdp,
        rank=int(os.environ.get("RANK", "0")),
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
        fsdp=fsdp,
    )


def gradient_accumulation_steps(config: TrainConfig, examples: int, world_size: int) -> int:
    """Steps to accumulate for `config.batch_size` examples per update, never more than one pass holds."""
    per_pass = config.micro_batch_size * world_size
    wanted = max(1, config.batch_size // per_pass)
    return max(1, min(wanted, math.ceil(examples / per_pass)))


@dataclass
class TrainResult:
    status: Literal["succeeded", "stopped"]
    output_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


class ReportingCallback(TrainerCallback):
    """Turns the Trainer's events into `ProgressReporter` calls and honours a stop request."""

    def __init__(self, reporter: ProgressReporter, stop: threading.Event | None, cuda: bool) -> None:
        self.reporter = reporter
        self.stop = stop
        self.cuda = cuda
        self.stopped = False
        self._start: tuple[float, int, int] | None = None  # (time, step, tokens) when this session began

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._start is None:
            self._start = (time.perf_counter(), state.global_step, state.num_input_tokens_seen)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.stop is not None and self.stop.is_set():
            self.stopped = True
            control.should_training_stop = True
            control.should_save = False

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs or "eval_loss" in logs:
            self.reporter.on_progress(self._progress(state, logs))

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero:
            self.reporter.on_log(f"saved checkpoint-{state.global_step}")

    def _progress(self, state: TrainerState, logs: dict[str, float]) -> Progress:
        tokens_per_second = eta_seconds = None
        if self._start is not None:
            started, start_step, start_tokens = self._start
            elapsed = time.perf_counter() - started
            steps_done = state.global_step - start_step
            if elapsed > 0 and steps_done > 0:
                tokens_per_second = (state.num_input_tokens_seen - start_tokens) / elapsed
                eta_seconds = (state.max_steps - state.global_step) * elapsed / steps_done
        return Progress(
            step=state.global_step,
            total_steps=state.max_steps,
            epoch=float(state.epoch or 0.0),
            loss=logs.get("loss"),
            eval_loss=logs.get("eval_loss"),
            learning_rate=logs.get("learning_rate"),
            tokens_per_second=tokens_per_second,
            eta_seconds=eta_seconds,
            gpu_memory_mb=torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None,
        )


@dataclass
class TrainingSession:
    config: TrainConfig
    runtime: Runtime
    layout: OutputLayout
    tokenizer: PreTrainedTokenizerBase
    trainer: Trainer
    callback: ReportingCallback
    reporter: ProgressReporter
    resume_from: Path | None


def setup(
    config: TrainConfig, reporter: ProgressReporter | None = None, stop: threading.Event | None = None
) -> TrainingSession:
    """Check the config, tokenize the data, load the model and build the Trainer; write the run's records."""
    config = config.check().resolved()
    runtime = detect_runtime(config)
    reporter = reporter or ConsoleReporter()

    def log(message: str) -> None:
        if runtime.is_main:
            reporter.on_log(message)

    layout = OutputLayout(config.output_dir, config.method)
    resume_from = layout.resume_point(config.resume, log)

    template = load_template(config.prompt_template)
    tokenizer = load_tokenizer(config.base_model)
    encoder = ExampleEncoder(tokenizer, template, config.max_length, config.overlong)
    train_examples, train_stats = encoder.encode_all(read_alpaca_jsonl(config.data_path))
    if not train_examples:
        raise DataError(f"every training example is longer than max_length {config.max_length}; raise it")
    eval_examples, eval_stats = (None, None)
    if config.validation_path is not None:
        eval_examples, eval_stats = encoder.encode_all(read_alpaca_jsonl(config.validation_path))
    manifest = _data_manifest(config, train_stats, eval_stats)
    if resume_from is not None:
        layout.check_same_data(manifest["train"]["sha256"])
    if runtime.is_main:
        write_json(layout.config_file, config.to_dict())
        write_json(layout.manifest_file, manifest)
        write_json(layout.template_file, template.to_dict())
    log(
        f"{train_stats.examples} training examples from {train_stats.records} records "
        f"({train_stats.truncated} truncated, {train_stats.dropped_too_long} dropped as too long)"
    )

    # Full fine-tuning keeps fp32 master weights (bf16 runs under autocast); LoRA freezes a bf16 base.
    # Under FSDP the base stays fp32 as well: sharding makes that cheap, and FSDP's mixed-precision
    # policy then casts every parameter, frozen base and fp32 adapters alike, to bf16 for compute.
    dtype = torch.bfloat16 if runtime.bf16 and config.method == "lora" and not runtime.fsdp else torch.float32
    base = load_base_model(config.base_model, dtype)
    base.generation_config.pad_token_id = tokenizer.pad_token_id
    base.generation_config.eos_token_id = tokenizer.eos_token_id
    model: torch.nn.Module = add_lora(base, config) if config.method == "lora" else base
    trainable, total = count_parameters(model)
    log(f"{config.method}: {trainable:,} trainable of {total:,} parameters on {runtime.device}")

    accumulation = gradient_accumulation_steps(config, len(train_examples), runtime.world_size)
    log(
        f"effective batch {config.micro_batch_size * accumulation * runtime.world_size} = "
        f"{config.micro_batch_size} per device x {accumulation} accumulation x {runtime.world_size} processes"
    )
    callback = ReportingCallback(reporter, stop, cuda=runtime.device == "cuda")
    trainer = Trainer(
        model=model,
        args=_training_arguments(config, runtime, layout, accumulation),
        train_dataset=SupervisedDataset(train_examples),
        eval_dataset=SupervisedDataset(eval_examples) if eval_examples else None,
        data_collator=CompletionCollator(
            pad_token_id=int(tokenizer.pad_token_id),
            pad_to_multiple_of=8 if runtime.device == "cuda" else None,
        ),
        processing_class=tokenizer,
        callbacks=[callback],
    )
    # The reporter prints progress; the Trainer's own printer and progress bar would repeat it.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return TrainingSession(config, runtime, layout, tokenizer, trainer, callback, reporter, resume_from)


def fit(session: TrainingSession) -> TrainResult:
    """Train to the end (or until stopped), evaluate, save weights and write metrics.json."""
    config, layout, trainer, runtime = session.config, session.layout, session.trainer, session.runtime
    if session.resume_from is not None and runtime.is_main:
        session.reporter.on_log(f"resuming from {session.resume_from}")
    started = time.perf_counter()
    resume = str(session.resume_from) if session.resume_from is not None else None
    output = trainer.train(resume_from_checkpoint=resume)
    if session.callback.stopped:
        return TrainResult(status="stopped", output_dir=layout.root)

    eval_loss = trainer.evaluate()["eval_loss"] if trainer.eval_dataset is not None else None
    trainer.save_model(str(layout.weights_dir))
    if not runtime.is_main:
        return TrainResult(status="succeeded", output_dir=layout.root)

    if config.merge:
        session.reporter.on_log(f"merging the adapter into {layout.merged_dir}")
        merge_adapter(config.base_model, layout.weights_dir, layout.merged_dir, session.tokenizer)
    state = trainer.state
    losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    resumed_from_step = _checkpoint_step(session.resume_from)
    metrics: dict[str, Any] = {
        "train_loss": losses[-1] if losses else output.training_loss,
        "initial_train_loss": losses[0] if losses else None,
        "eval_loss": eval_loss,
        "global_step": state.global_step,
        "total_steps": state.max_steps,
        "epoch": state.epoch,
        "resumed_from_step": resumed_from_step,
        "train_tokens": state.num_input_tokens_seen,
        "effective_batch_size": config.micro_batch_size
        * trainer.args.gradient_accumulation_steps
        * runtime.world_size,
        "runtime_seconds": round(time.perf_counter() - started, 3),
        "runtime": {
            "device": runtime.device,
            "bf16": runtime.bf16,
            "gradient_checkpointing": runtime.gradient_checkpointing,
            "world_size": runtime.world_size,
            "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
        },
        "loss_history": [
            {"step": entry["step"], "loss": entry["loss"]} for entry in state.log_history if "loss" in entry
        ],
    }
    write_json(layout.metrics_file, metrics)
    if not config.keep_checkpoints:
        layout.remove_checkpoints()
    session.reporter.on_log(
        f"done: step {state.global_step}, train loss {metrics['train_loss']:.4f}"
        + (f", validation loss {eval_loss:.4f}" if eval_loss is not None else "")
        + f"; outputs in {layout.root}"
    )
    return TrainResult(status="succeeded", output_dir=layout.root, metrics=metrics, files=layout.files())


def train(
    config: TrainConfig, reporter: ProgressReporter | None = None, stop: threading.Event | None = None
) -> TrainResult:
    """`setup` then `fit`, releasing the model's memory afterwards (the worker trains many runs)."""
    session = setup(config, reporter, stop)
    try:
        return fit(session)
    finally:
        del session
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _training_arguments(
    config: TrainConfig, runtime: Runtime, layout: OutputLayout, accumulation: int
) -> TrainingArguments:
    cuda = runtime.device == "cuda"
    return TrainingArguments(
        output_dir=str(layout.checkpoints_dir),
        per_device_train_batch_size=config.micro_batch_size,
        per_device_eval_batch_size=config.micro_batch_size,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.peak_learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=float(config.warmup_ratio),  # a float below 1 is a ratio of the total steps
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        data_seed=config.seed,
        bf16=runtime.bf16,
        tf32=True if cuda and torch.cuda.get_device_capability()[0] >= 8 else None,
        use_cpu=not cuda,
        activation_checkpointing=runtime.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if runtime.gradient_checkpointing else None,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if config.eval_steps else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        dataloader_pin_memory=cuda,
        ddp_find_unused_parameters=False if runtime.world_size > 1 else None,
        report_to="none",
        disable_tqdm=True,
    )


def _data_manifest(
    config: TrainConfig, train_stats: EncodingStats, eval_stats: EncodingStats | None
) -> dict[str, Any]:
    def describe(path: Path, stats: EncodingStats) -> dict[str, Any]:
        counts = stats.to_dict()
        return {"path": str(path), "sha256": file_sha256(path), "rows": counts.pop("records"), **counts}

    return {
        "train": describe(config.data_path, train_stats),
        "validation": (
            describe(config.validation_path, eval_stats)
            if config.validation_path is not None and eval_stats is not None
            else None
        ),
        "max_length": config.max_length,
        "overlong": config.overlong,
        "export_manifest": (
            read_json(config.export_manifest_path) if config.export_manifest_path is not None else None
        ),
    }


def _checkpoint_step(checkpoint: Path | None) -> int | None:
    if checkpoint is None:
        return None
    return int(checkpoint.name.rsplit("-", 1)[1])
