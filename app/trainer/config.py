"""The training configuration: every hyperparameter of a Pasture fine-tune, with Alpaca's recipe as defaults.

`TrainConfig` is a plain dataclass so it serialises to `pasture_train_config.json` and back, and so the
service can send any subset of its hyperparameter fields with a training run. `problems()` checks every
field and returns all problems at once; `check()` raises them as one `ConfigError`.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.trainer.errors import ConfigError
from app.trainer.template import is_template_reference

METHODS = ("lora", "full")
OVERLONG_POLICIES = ("truncate", "drop")
PRECISIONS = ("auto", "bf16", "fp32")
LR_SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")
ALPACA_LEARNING_RATES = {"full": 2e-5, "lora": 3e-4}
LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# Fields that say where things are; the service may not set them through a run's hyperparameters.
LOCATION_FIELDS = frozenset({"data_path", "validation_path", "export_manifest_path", "output_dir", "resume"})


def _doc(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class TrainConfig:
    """One fine-tuning run; defaults are Stanford Alpaca's (3 epochs, batch 128, 512 tokens, cosine)."""

    # What to train and where to write it.
    data_path: Path = field(metadata=_doc("Training JSONL in Alpaca shape: instruction, input, output."))
    base_model: str = field(metadata=_doc("Base model: a local folder or a Hugging Face hub id."))
    output_dir: Path = field(metadata=_doc("Folder for weights, checkpoints, config, manifest and metrics."))
    validation_path: Path | None = field(
        default=None, metadata=_doc("Optional validation JSONL; its loss is reported as eval_loss.")
    )
    export_manifest_path: Path | None = field(
        default=None, metadata=_doc("Optional export manifest JSON, copied into data_manifest.json.")
    )
    method: str = field(
        default="lora", metadata=_doc("lora (train low-rank adapters) or full (all weights).")
    )

    # Optimisation.
    epochs: float = field(default=3.0, metadata=_doc("Passes over the training data."))
    max_steps: int | None = field(
        default=None, metadata=_doc("Stop after this many optimizer steps (overrides epochs when set).")
    )
    learning_rate: float | None = field(
        default=None, metadata=_doc("Peak learning rate; unset means Alpaca's: 2e-5 for full, 3e-4 for LoRA.")
    )
    batch_size: int = field(
        default=128,
        metadata=_doc(
            "Effective batch in examples per optimizer step; gradient accumulation = batch_size / "
            "(micro_batch_size x GPUs), lowered when the data set is smaller than one batch."
        ),
    )
    micro_batch_size: int = field(default=4, metadata=_doc("Examples per forward pass on each device."))
    lr_scheduler: str = field(default="cosine", metadata=_doc("Learning-rate schedule after warmup."))
    warmup_ratio: float = field(default=0.03, metadata=_doc("Share of the steps spent warming up linearly."))
    weight_decay: float = field(default=0.0, metadata=_doc("AdamW weight decay."))
    max_grad_norm: float = field(default=1.0, metadata=_doc("Gradient clipping norm."))
    seed: int = field(default=42, metadata=_doc("Seed for initialisation, dropout and data order."))

    # Data.
    max_length: int = field(default=512, metadata=_doc("Longest example in tokens, prompt and response."))
    overlong: str = field(
        default="truncate",
        metadata=_doc(
            "Examples longer than max_length: truncate (cut the response, no EOS, as Alpaca does) or drop. "
            "Examples whose prompt alone fills max_length are always dropped."
        ),
    )
    prompt_template: str = field(
        default="alpaca", metadata=_doc("Built-in template name (alpaca) or a prompt_template.json file.")
    )
    group_by_length: bool = field(
        default=True, metadata=_doc("Batch examples of similar length together to waste less on padding.")
    )

    # LoRA.
    lora_r: int = field(default=16, metadata=_doc("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=_doc("LoRA scaling numerator (scale = alpha / r)."))
    lora_dropout: float = field(default=0.05, metadata=_doc("Dropout on the LoRA input."))
    lora_target_modules: tuple[str, ...] = field(
        default=LLAMA_PROJECTIONS, metadata=_doc("Linear layers that get adapters (LLaMA names).")
    )
    merge: bool = field(
        default=False, metadata=_doc("LoRA only: also write base + adapter merged into plain weights.")
    )

    # Runtime.
    precision: str = field(
        default="auto", metadata=_doc("auto (bf16 on GPUs that support it, else fp32), bf16 or fp32.")
    )
    gradient_checkpointing: bool | None = field(
        default=None,
        metadata=_doc("Recompute activations to save memory; unset means on for GPU, off for CPU."),
    )
    save_steps: int = field(default=200, metadata=_doc("Write a resumable checkpoint every this many steps."))
    save_total_limit: int = field(default=2, metadata=_doc("Checkpoints kept; older ones are deleted."))
    keep_checkpoints: bool = field(
        default=False, metadata=_doc("Keep the checkpoints folder after a successful run.")
    )
    logging_steps: int = field(default=10, metadata=_doc("Report loss and progress every this many steps."))
    eval_steps: int | None = field(
        default=None, metadata=_doc("Also evaluate every this many steps (the final evaluation always runs).")
    )
    resume: bool = field(
        default=False, metadata=_doc("Continue from the newest complete checkpoint in the output folder.")
    )

    @property
    def peak_learning_rate(self) -> float:
        """The learning rate in use: the configured one, or Alpaca's for the method."""
        if self.learning_rate is not None:
            return self.learning_rate
        return ALPACA_LEARNING_RATES.get(self.method, ALPACA_LEARNING_RATES["lora"])

    def resolved(self) -> TrainConfig:
        """A copy with defaults that depend on other fields filled in, as written to the output folder."""
        return replace(self, learning_rate=self.peak_learning_rate)

    def problems(self) -> list[str]:
        """Every problem with this configuration, in field order; empty when it is usable."""
        found: list[str] = []

        def need(condition: bool, message: str) -> None:
            if not condition:
                found.append(message)

        need(self.data_path.is_file(), f"data_path {self.data_path} is not a file")
        need(
            self.validation_path is None or self.validation_path.is_file(),
            f"validation_path {self.validation_path} is not a file",
        )
        need(
            self.export_manifest_path is None or self.export_manifest_path.is_file(),
            f"export_manifest_path {self.export_manifest_path} is not a file",
        )
        need(bool(self.base_model.strip()), "base_model is empty")
        need(not self.output_dir.is_file(), f"output_dir {self.output_dir} is a file, not a folder")
        need(self.method in METHODS, f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        need(math.isfinite(self.epochs) and self.epochs > 0, f"epochs must be positive, not {self.epochs}")
        need(
            self.max_steps is None or self.max_steps > 0, f"max_steps must be positive, not {self.max_steps}"
        )
        need(
            self.learning_rate is None or (math.isfinite(self.learning_rate) and self.learning_rate > 0),
            f"learning_rate must be positive, not {self.learning_rate}",
        )
        need(self.batch_size > 0, f"batch_size must be positive, not {self.batch_size}")
        need(self.micro_batch_size > 0, f"micro_batch_size must be positive, not {self.micro_batch_size}")
        if self.batch_size > 0 and self.micro_batch_size > 0:
            need(
                self.batch_size % self.micro_batch_size == 0,
                f"batch_size ({self.batch_size}) must be a multiple of "
                f"micro_batch_size ({self.micro_batch_size})",
            )
        need(
            self.lr_scheduler in LR_SCHEDULERS,
            f"lr_scheduler must be one of {', '.join(LR_SCHEDULERS)}, not {self.lr_scheduler!r}",
        )
        need(0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), not {self.warmup_ratio}")
        need(self.weight_decay >= 0, f"weight_decay must not be negative, not {self.weight_decay}")
        need(self.max_grad_norm > 0, f"max_grad_norm must be positive, not {self.max_grad_norm}")
        need(self.max_length >= 8, f"max_length must be at least 8 tokens, not {self.max_length}")
        need(
            self.overlong in OVERLONG_POLICIES,
            f"overlong must be one of {', '.join(OVERLONG_POLICIES)}, not {self.overlong!r}",
        )
        need(
            is_template_reference(self.prompt_template),
            f"prompt_template {self.prompt_template!r} is neither a built-in template nor a file",
        )
        need(self.lora_r > 0, f"lora_r must be positive, not {self.lora_r}")
        need(self.lora_alpha > 0, f"lora_alpha must be positive, not {self.lora_alpha}")
        need(0 <= self.lora_dropout < 1, f"lora_dropout must be in [0, 1), not {self.lora_dropout}")
        need(
            len(self.lora_target_modules) > 0 and all(name.strip() for name in self.lora_target_modules),
            "lora_target_modules must name at least one module",
        )
        need(
            not (self.merge and self.method == "full"),
            "merge applies to LoRA only; a full fine-tune is merged",
        )
        need(
            self.precision in PRECISIONS,
            f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}",
        )
        need(self.save_steps > 0, f"save_steps must be positive, not {self.save_steps}")
        need(self.save_total_limit > 0, f"save_total_limit must be positive, not {self.save_total_limit}")
        need(self.logging_steps > 0, f"logging_steps must be positive, not {self.logging_steps}")
        need(
            self.eval_steps is None or self.eval_steps > 0,
            f"eval_steps must be positive, not {self.eval_steps}",
        )
        need(
            self.eval_steps is None or self.validation_path is not None,
            "eval_steps is set but there is no validation_path to evaluate on",
        )
        return found

    def check(self) -> TrainConfig:
        """Return self, or raise one `ConfigError` listing every problem."""
        found = self.problems()
        if found:
            raise ConfigError(found)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields: paths as strings, tuples as lists."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from JSON-like values; unknown, missing or mistyped fields are all reported at once."""
        hints = typing.get_type_hints(cls)
        known = {spec.name: spec for spec in fields(cls)}
        problems = [f"unknown field {key!r}" for key in data if key not in known]
        values: dict[str, Any] = {}
        for name, spec in known.items():
            if name not in data:
                if spec.default is MISSING and spec.default_factory is MISSING:
                    problems.append(f"{name} is required")
                continue
            try:
                values[name] = _convert(data[name], hints[name])
            except (TypeError, ValueError) as error:
                problems.append(f"{name}: {error}")
        if problems:
            # Also report what is wrong with the values that did convert, so one message lists everything.
            if all(name in values for name, spec in known.items() if spec.default is MISSING):
                problems.extend(cls(**values).problems())
            raise ConfigError(problems)
        return cls(**values)

    @classmethod
    def from_hyperparameters(cls, hyperparameters: dict[str, Any], **decided: Any) -> TrainConfig:
        """Build from a service run's hyperparameters plus the fields the run and the worker decide.

        `decided` holds the paths and resume flag (the worker's) and base_model, method, merge and
        prompt_template (the run's own fields). Hyperparameters may repeat a run field with the same value;
        they may not contradict one, nor set a path.
        """
        problems: list[str] = []
        allowed: dict[str, Any] = {}
        for name, value in hyperparameters.items():
            if name in LOCATION_FIELDS:
                problems.append(f"hyperparameters may not set {name!r}; the worker decides it")
            elif name in decided and value != decided[name]:
                problems.append(f"hyperparameters set {name}={value!r} but the run says {decided[name]!r}")
            elif name not in decided:
                allowed[name] = value
        try:
            config = cls.from_dict({**allowed, **decided})
        except ConfigError as error:
            raise ConfigError(problems + error.problems) from None
        if problems:
            raise ConfigError(problems + config.problems())
        return config


def hyperparameter_help() -> dict[str, str]:
    """Field name -> its documentation, for the CLI's help and the README."""
    return {spec.name: spec.metadata.get("help", "") for spec in fields(TrainConfig)}


def _convert(value: Any, hint: Any) -> Any:
    """Convert one JSON value to the field's type, or raise with a readable reason."""
    if isinstance(hint, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if value is None:
            return None
        return _convert(value, options[0])
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str | Path):
            raise TypeError(f"expected a path, got {value!r}")
        return Path(value)
    if typing.get_origin(hint) is tuple:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise TypeError(f"expected a list of strings, got {value!r}")
        return tuple(value)
    raise TypeError(f"unsupported field type {hint!r}")
