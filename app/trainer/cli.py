"""`pasture-worker`: fine-tune locally (`train`), serve a Pasture service's training queue (`run`), or
answer an evaluation's questions with a trained model (`answer`).

    pasture-worker train --data export.jsonl --base-model ./llama-7b --out runs/alpaca-lora
    pasture-worker run --server https://pasture.example.org --token "$PASTURE_WORKER_TOKEN"
    pasture-worker answer --server https://pasture.example.org --evaluation 7 --model-name run-12 \
        --run-dir runs/alpaca-lora

Problems a person can fix (bad config, bad data, an output folder in use) print as one line and exit 2.
Works under `accelerate launch -m app.trainer.cli train ...` and `torchrun -m app.trainer.cli train ...`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from app.trainer.config import LR_SCHEDULERS, METHODS, OVERLONG_POLICIES, PRECISIONS, hyperparameter_help
from app.trainer.errors import TrainerError

PROG = "pasture-worker"
TOKEN_ENV = "PASTURE_WORKER_TOKEN"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _UsageError(Exception):
    pass


# (flag, TrainConfig field, argparse options); help comes from the field's documentation.
_TRAIN_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--data", "data_path", {"required": True, "metavar": "FILE.jsonl"}),
    ("--base-model", "base_model", {"required": True, "metavar": "DIR_OR_HUB_ID"}),
    ("--out", "output_dir", {"required": True, "metavar": "DIR"}),
    ("--validation", "validation_path", {"metavar": "FILE.jsonl"}),
    ("--manifest", "export_manifest_path", {"metavar": "FILE.json"}),
    ("--method", "method", {"choices": METHODS}),
    ("--epochs", "epochs", {"type": float}),
    ("--max-steps", "max_steps", {"type": int}),
    ("--lr", "learning_rate", {"type": float}),
    ("--batch-size", "batch_size", {"type": int}),
    ("--micro-batch-size", "micro_batch_size", {"type": int}),
    ("--max-length", "max_length", {"type": int}),
    ("--overlong", "overlong", {"choices": OVERLONG_POLICIES}),
    ("--prompt-template", "prompt_template", {"metavar": "NAME_OR_FILE"}),
    ("--lr-scheduler", "lr_scheduler", {"choices": LR_SCHEDULERS}),
    ("--warmup-ratio", "warmup_ratio", {"type": float}),
    ("--weight-decay", "weight_decay", {"type": float}),
    ("--max-grad-norm", "max_grad_norm", {"type": float}),
    ("--seed", "seed", {"type": int}),
    ("--lora-r", "lora_r", {"type": int}),
    ("--lora-alpha", "lora_alpha", {"type": int}),
    ("--lora-dropout", "lora_dropout", {"type": float}),
    ("--lora-targets", "lora_target_modules", {"metavar": "NAME,NAME"}),
    ("--merge", "merge", {"action": "store_const", "const": True}),
    ("--precision", "precision", {"choices": PRECISIONS}),
    ("--gradient-checkpointing", "gradient_checkpointing", {"action": argparse.BooleanOptionalAction}),
    ("--group-by-length", "group_by_length", {"action": argparse.BooleanOptionalAction}),
    ("--save-steps", "save_steps", {"type": int}),
    ("--save-total-limit", "save_total_limit", {"type": int}),
    ("--keep-checkpoints", "keep_checkpoints", {"action": "store_const", "const": True}),
    ("--logging-steps", "logging_steps", {"type": int}),
    ("--eval-steps", "eval_steps", {"type": int}),
    ("--resume", "resume", {"action": "store_const", "const": True}),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="Fine-tune a LLaMA-architecture model on Pasture's Alpaca exports."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser(
        "train",
        help="run one training locally",
        description="Run one fine-tune locally; unset options follow Alpaca's recipe (see the README).",
    )
    docs = hyperparameter_help()
    for flag, name, options in _TRAIN_FLAGS:
        train.add_argument(flag, dest=name, default=None, help=docs[name], **options)

    run = commands.add_parser(
        "run",
        help="claim and train queued runs from a Pasture service",
        description="Claim queued training runs from a Pasture service, train them and report back.",
    )
    run.add_argument("--server", required=True, metavar="URL", help="the service's base URL")
    run.add_argument("--token", default=None, help=f"bearer token (default: ${TOKEN_ENV})")
    run.add_argument("--work-dir", type=Path, default=Path("runs"), help="runs train in WORK_DIR/run-ID")
    run.add_argument("--once", action="store_true", help="handle at most one run, then exit")
    run.add_argument("--poll-seconds", type=float, default=10.0, help="wait between claims when idle")
    run.add_argument("--lease-seconds", type=int, default=120, help="lease asked for; heartbeats every third")
    run.add_argument("--worker-id", default=None, help="name reported to the service (default: host-pid)")

    answer = commands.add_parser(
        "answer",
        help="answer an evaluation's questions with a trained model and post the answers",
        description="Answer the questions an evaluation still lacks for a model registered with "
        "answered_by 'worker', and post the answers so the evaluation can be judged.",
    )
    answer.add_argument("--server", required=True, metavar="URL", help="the service's base URL")
    answer.add_argument("--token", default=None, help=f"bearer token (default: ${TOKEN_ENV})")
    answer.add_argument("--evaluation", required=True, type=int, metavar="ID", help="the evaluation's id")
    answer.add_argument(
        "--model-name", required=True, metavar="NAME", help="the registered model the answers are for"
    )
    source = answer.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--base-model", metavar="DIR_OR_HUB_ID", help="base model (with --adapter) or a full/merged model"
    )
    source.add_argument(
        "--run-dir", type=Path, metavar="DIR", help="a finished run's output folder: adapter/ or model/"
    )
    answer.add_argument("--adapter", type=Path, metavar="DIR", help="LoRA adapter folder for --base-model")
    answer.add_argument(
        "--prompt-template",
        default=None,
        metavar="NAME_OR_FILE",
        help="template the model was trained with (default: the run's, or alpaca)",
    )
    answer.add_argument("--batch-size", type=int, default=8, help="prompts generated together")
    answer.add_argument("--max-new-tokens", type=int, default=512, help="longest reply per turn, in tokens")
    answer.add_argument("--temperature", type=float, default=0.0, help="0 decodes greedily (default)")
    answer.add_argument("--seed", type=int, default=0, help="sampling seed, with --temperature")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[pasture] %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "answer":
            return _answer(args)
        return _run(args)
    except (TrainerError, _UsageError) as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


def _train(args: argparse.Namespace) -> int:
    from app.trainer.config import TrainConfig
    from app.trainer.train import train

    values = {name: getattr(args, name) for _, name, _ in _TRAIN_FLAGS if getattr(args, name) is not None}
    train(TrainConfig.from_dict(values))
    return 0


def _run(args: argparse.Namespace) -> int:
    from app.trainer.client import ServiceClient, ServiceError
    from app.trainer.reporting import ConsoleReporter
    from app.trainer.worker import Worker, default_worker_id

    if not 10 <= args.lease_seconds <= 3600:
        raise _UsageError("--lease-seconds must be between 10 and 3600")
    if args.poll_seconds <= 0:
        raise _UsageError("--poll-seconds must be positive")
    try:
        client = ServiceClient(
            args.server,
            worker_id=args.worker_id or default_worker_id(),
            token=args.token or os.environ.get(TOKEN_ENV) or None,
        )
        worker = Worker(
            client,
            work_dir=args.work_dir,
            lease_seconds=args.lease_seconds,
            poll_seconds=args.poll_seconds,
            console=ConsoleReporter(),
        )
        return worker.run(once=args.once)
    except ServiceError as error:
        raise _UsageError(str(error)) from error


def _answer(args: argparse.Namespace) -> int:
    from app.trainer.answering import Answerer, ModelSource, SamplingConfig, answer_evaluation
    from app.trainer.client import ServiceClient, ServiceError
    from app.trainer.template import load_template
    from app.trainer.worker import default_worker_id

    sampling = SamplingConfig(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    problems = sampling.problems()
    if args.run_dir is not None and args.adapter is not None:
        problems.append("--adapter goes with --base-model; --run-dir finds the run's own adapter")
    if problems:
        raise _UsageError("; ".join(problems))
    if args.run_dir is not None:
        source = ModelSource.from_run_dir(args.run_dir)
    else:
        source = ModelSource(base_model=args.base_model, adapter=args.adapter)
    if args.prompt_template is not None:
        source = ModelSource(source.base_model, source.adapter, load_template(args.prompt_template))
    source.check()
    try:
        client = ServiceClient(
            args.server, worker_id=default_worker_id(), token=args.token or os.environ.get(TOKEN_ENV) or None
        )
        outcome = answer_evaluation(
            client,
            args.evaluation,
            args.model_name,
            lambda: Answerer.load(source, sampling),
            log=lambda message: print(message, file=sys.stderr, flush=True),
        )
    except ServiceError as error:
        raise _UsageError(str(error)) from error
    if outcome.posted is None:
        print(f"evaluation {args.evaluation} already holds every answer of {args.model_name!r}")
    else:
        print(
            f"posted {outcome.posted.stored} answers of {args.model_name!r} to evaluation {args.evaluation}; "
            f"it is {outcome.posted.status}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
