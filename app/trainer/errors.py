"""Errors the trainer raises for problems a person can fix (bad config, bad data, bad output folder).

Each message says what is wrong and what to change; the CLI prints it as one line and exits with 2.
"""

from __future__ import annotations


class TrainerError(Exception):
    """A problem with the inputs of a training run, not a bug in Pasture."""


class ConfigError(TrainerError):
    """A training configuration with one or more invalid fields; every problem is listed at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid training configuration: " + "; ".join(self.problems))


class DataError(TrainerError):
    """A training or validation file that cannot be used as it is."""


class OutputDirError(TrainerError):
    """An output folder that holds a different or finished training."""
