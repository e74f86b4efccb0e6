"""The output folder of a training run: where each file goes, and finding a checkpoint to resume from.

out/
  pasture_train_config.json   the resolved TrainConfig
  data_manifest.json          sha256 and counts of the data files, the export manifest if given
  prompt_template.json        the template the prompts were rendered with
  metrics.json                final train and validation loss, steps, tokens, runtime
  adapter/ | model/           LoRA adapter or full weights, with the tokenizer
  merged/                     LoRA merged into the base weights (with --merge), with the tokenizer
  checkpoints/checkpoint-N/   resumable Trainer checkpoints (removed after success unless kept)
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.trainer.errors import OutputDirError

CONFIG_FILE = "pasture_train_config.json"
MANIFEST_FILE = "data_manifest.json"
TEMPLATE_FILE = "prompt_template.json"
METRICS_FILE = "metrics.json"
# The Trainer writes trainer_state.json last, so a checkpoint without it was cut off mid-save.
_CHECKPOINT_COMPLETE_MARKER = "trainer_state.json"
_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class OutputLayout:
    root: Path
    method: str = "lora"

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def manifest_file(self) -> Path:
        return self.root / MANIFEST_FILE

    @property
    def template_file(self) -> Path:
        return self.root / TEMPLATE_FILE

    @property
    def metrics_file(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def weights_dir(self) -> Path:
        return self.root / ("adapter" if self.method == "lora" else "model")

    @property
    def merged_dir(self) -> Path:
        return self.root / "merged"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    def latest_checkpoint(self) -> Path | None:
        """The complete checkpoint with the highest step, or None."""
        if not self.checkpoints_dir.is_dir():
            return None
        complete = [
            (int(match.group(1)), path)
            for path in self.checkpoints_dir.iterdir()
            if (match := _CHECKPOINT_NAME.match(path.name))
            and path.is_dir()
            and (path / _CHECKPOINT_COMPLETE_MARKER).is_file()
        ]
        return max(complete)[1] if complete else None

    def is_finished(self) -> bool:
        return self.metrics_file.is_file()

    def resume_point(self, resume: bool, log: Callable[[str], None]) -> Path | None:
        """The checkpoint to continue from, or None for a fresh start; refuses to overwrite a training."""
        if self.is_finished():
            raise OutputDirError(
                f"{self.root} already holds a finished training; choose another output folder"
            )
        checkpoint = self.latest_checkpoint()
        if checkpoint is not None and not resume:
            raise OutputDirError(
                f"{self.root} holds checkpoints of an unfinished training: pass --resume to continue it "
                "or choose another output folder"
            )
        if resume and checkpoint is None:
            log(f"no checkpoint in {self.checkpoints_dir}; starting from the beginning")
        return checkpoint if resume else None

    def check_same_data(self, train_sha256: str) -> None:
        """Refuse to resume checkpoints that were trained on other data."""
        if not self.manifest_file.is_file():
            return
        previous = read_json(self.manifest_file).get("train", {}).get("sha256")
        if previous and previous != train_sha256:
            raise OutputDirError(
                f"the checkpoints in {self.root} were trained on data with sha256 {previous}, not "
                f"{train_sha256}; resume with the same data or choose another output folder"
            )

    def remove_checkpoints(self) -> None:
        shutil.rmtree(self.checkpoints_dir, ignore_errors=True)

    def files(self) -> list[str]:
        """Every file under the output folder, relative to it, checkpoints left out."""
        if not self.root.is_dir():
            return []
        return sorted(
            str(path.relative_to(self.root))
            for path in self.root.rglob("*")
            if path.is_file() and self.checkpoints_dir not in path.parents
        )


def write_json(path: Path, data: Any) -> None:
    """Write pretty JSON atomically, so a crash never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
