"""Answer an evaluation's questions with a trained model and post the answers to the service.

The model is a base model plus an optional LoRA adapter, or a full/merged model folder, or a finished
run's output folder (its `adapter/` or `model/`, its base model and its prompt template). Prompts are
rendered with the template the model was trained with (the variant without an input), so the model sees
the layout it learned.

A question with several turns is answered turn by turn: later turns carry the conversation so far inside
the instruction (see `conversation_instruction`), since the Alpaca layout has no place for a dialogue.
Generation is batched with left padding, greedy unless a temperature is given, and stops at EOS or after
`max_new_tokens`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from app.trainer.artifacts import CONFIG_FILE, TEMPLATE_FILE, read_json
from app.trainer.client import EvaluationQuestion, PostedAnswers, ServiceClient
from app.trainer.data import leading_special_ids
from app.trainer.errors import TrainerError
from app.trainer.model import load_base_model, load_tokenizer
from app.trainer.template import ALPACA, PromptTemplate, load_template

logger = logging.getLogger(__name__)

_DONE_STATUSES = ("succeeded", "cancelled")


@dataclass(frozen=True)
class SamplingConfig:
    """How answers are generated."""

    max_new_tokens: int = 512  # per turn
    temperature: float = 0.0  # 0 is greedy decoding
    batch_size: int = 8  # prompts generated together
    seed: int = 0  # only matters when sampling

    def problems(self) -> list[str]:
        checks = [
            (self.max_new_tokens >= 1, f"--max-new-tokens must be at least 1, not {self.max_new_tokens}"),
            (self.temperature >= 0, f"--temperature must not be negative, not {self.temperature}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, not {self.batch_size}"),
        ]
        return [message for ok, message in checks if not ok]


@dataclass(frozen=True)
class ModelSource:
    """Where the answering model comes from: `base_model` alone, or with a LoRA `adapter` folder."""

    base_model: str
    adapter: Path | None = None
    template: PromptTemplate = ALPACA

    @classmethod
    def from_run_dir(cls, run_dir: Path) -> ModelSource:
        """A finished run's output folder: its adapter (with its base model) or its full weights."""
        config_file = run_dir / CONFIG_FILE
        if not config_file.is_file():
            raise TrainerError(f"{run_dir} is not a training run's output folder: it has no {CONFIG_FILE}")
        template = (
            load_template(str(run_dir / TEMPLATE_FILE)) if (run_dir / TEMPLATE_FILE).is_file() else ALPACA
        )
        if (run_dir / "adapter").is_dir():
            base_model = read_json(config_file).get("base_model")
            if not isinstance(base_model, str) or not base_model:
                raise TrainerError(f"{config_file} names no base_model for the adapter")
            return cls(base_model=base_model, adapter=run_dir / "adapter", template=template)
        if (run_dir / "model").is_dir():
            return cls(base_model=str(run_dir / "model"), template=template)
        raise TrainerError(f"{run_dir} holds neither adapter/ nor model/; did the training finish?")

    def check(self) -> None:
        """Refuse a missing adapter folder before anything slow happens."""
        if self.adapter is not None and not (self.adapter / "adapter_config.json").is_file():
            raise TrainerError(
                f"--adapter {self.adapter} is not a LoRA adapter folder (no adapter_config.json)"
            )


class Answerer:
    """A loaded model that answers questions, `config.batch_size` prompts at a time."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        template: PromptTemplate = ALPACA,
        config: SamplingConfig | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.template = template
        self.config = config or SamplingConfig()
        self.leading_ids = leading_special_ids(tokenizer)
        self.eos_token_id = int(tokenizer.eos_token_id)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad) if pad is not None else self.eos_token_id

    @classmethod
    def load(cls, source: ModelSource, config: SamplingConfig | None = None) -> Answerer:
        """Load the model on the GPU when there is one (bf16 where supported), otherwise on the CPU."""
        source.check()
        cuda = torch.cuda.is_available()
        dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
        tokenizer_source = source.adapter if _has_tokenizer(source.adapter) else source.base_model
        tokenizer = load_tokenizer(str(tokenizer_source))
        model: Any = load_base_model(source.base_model, dtype)
        if source.adapter is not None:
            from peft import PeftModel

            try:
                model = PeftModel.from_pretrained(model, str(source.adapter)).merge_and_unload()
            except (OSError, ValueError, RuntimeError) as error:
                raise TrainerError(
                    f"cannot apply the adapter {source.adapter} to {source.base_model!r}: {error}"
                ) from error
        model.config.use_cache = True
        return cls(model.to("cuda" if cuda else "cpu"), tokenizer, source.template, config)

    def answer(self, questions: Sequence[Sequence[str]]) -> list[list[str]]:
        """One reply per turn of each question (each question is its list of turns)."""
        replies: list[list[str]] = [[] for _ in questions]
        for turn in range(max((len(turns) for turns in questions), default=0)):
            asked = [index for index, turns in enumerate(questions) if len(turns) > turn]
            prompts = [
                self.template.render(conversation_instruction(questions[i][: turn + 1], replies[i]))
                for i in asked
            ]
            for index, reply in zip(asked, self.generate(prompts), strict=True):
                replies[index].append(reply)
        return replies

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """The model's continuation of each prompt, prompt stripped, in the order given."""
        encoded = [
            self.leading_ids + list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            for prompt in prompts
        ]
        # Similar lengths share a batch, so little compute goes to padding.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        replies = [""] * len(encoded)
        size = self.config.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            for index, reply in zip(batch, self._generate_batch([encoded[i] for i in batch]), strict=True):
                replies[index] = reply
        return replies

    @torch.inference_mode()
    def _generate_batch(self, batch: list[list[int]]) -> list[str]:
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[self.pad_token_id] * (width - len(ids)) + ids for ids in batch])
        attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
        sampling = self.config.temperature > 0
        if sampling:
            torch.manual_seed(self.config.seed)
        # An explicit config, so a base model's own defaults (often sampling) do not apply.
        generation = GenerationConfig(
            max_new_tokens=self.config.max_new_tokens,
            do_sample=sampling,
            temperature=self.config.temperature if sampling else None,
            top_p=None,
            top_k=None,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
        )
        device = self.model.device
        output = self.model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            generation_config=generation,
        )
        new_tokens = output[:, width:].tolist()
        return [
            str(self.tokenizer.decode(_until_eos(ids, self.eos_token_id), skip_special_tokens=True)).strip()
            for ids in new_tokens
        ]


def conversation_instruction(turns: Sequence[str], replies: Sequence[str]) -> str:
    """The instruction for the last of `turns`, with the earlier turns and their `replies` before it.

    The first turn is the question itself. A later turn reads:

        Previous conversation:
        User: <turn 1>
        Assistant: <reply 1>

        Now answer the user's next message:
        <turn 2>
    """
    if len(replies) != len(turns) - 1:
        raise ValueError(f"{len(turns)} turns need {len(turns) - 1} earlier replies, got {len(replies)}")
    if not replies:
        return turns[0]
    history = "\n".join(
        f"User: {turn}\nAssistant: {reply}" for turn, reply in zip(turns[:-1], replies, strict=True)
    )
    return f"Previous conversation:\n{history}\n\nNow answer the user's next message:\n{turns[-1]}"


@dataclass(frozen=True)
class AnswerOutcome:
    questions: int
    answered: int
    posted: PostedAnswers | None


def answer_evaluation(
    client: ServiceClient,
    evaluation_id: int,
    model_name: str,
    load_answerer: Callable[[], Answerer],
    *,
    questions_per_post: int = 16,
    log: Callable[[str], None] = logger.info,
) -> AnswerOutcome:
    """Answer the questions `model_name` still lacks in the evaluation and post them, chunk by chunk.

    Answers are posted every `questions_per_post` questions, so an interrupted worker loses little and a
    second run answers only what is still missing. The model is loaded only when something is missing.
    """
    evaluation = client.get_evaluation(evaluation_id)
    if evaluation.status in _DONE_STATUSES:
        raise TrainerError(f"evaluation {evaluation_id} is {evaluation.status}; it takes no more answers")
    if model_name == evaluation.candidate:
        role: Any = "candidate"
    elif model_name == evaluation.baseline:
        role = "baseline"
    else:
        raise TrainerError(
            f"model {model_name!r} is not part of evaluation {evaluation_id}: its candidate is "
            f"{evaluation.candidate!r} and its baseline {evaluation.baseline!r}"
        )
    if client.get_model_answered_by(model_name) != "worker":
        raise TrainerError(
            f"model {model_name!r} is answered by its endpoint, so Pasture asks it itself; register a model "
            'with "answered_by": "worker" for answers made here'
        )
    questions = client.get_questions(evaluation.question_set)
    answered = client.answered_question_ids(evaluation_id, role)
    missing = [question for question in questions if question.question_id not in answered]
    log(
        f"evaluation {evaluation_id}: {len(missing)} of {len(questions)} questions to answer "
        f"as {model_name!r}"
    )
    if not missing:
        return AnswerOutcome(questions=len(questions), answered=0, posted=None)

    answerer = load_answerer()
    posted: PostedAnswers | None = None
    for start in range(0, len(missing), questions_per_post):
        chunk = missing[start : start + questions_per_post]
        posted = client.post_answers(evaluation_id, _answer_items(answerer, chunk, model_name))
        log(f"posted {start + len(chunk)}/{len(missing)} answers; evaluation is {posted.status}")
    return AnswerOutcome(questions=len(questions), answered=len(missing), posted=posted)


def _answer_items(
    answerer: Answerer, questions: Sequence[EvaluationQuestion], model_name: str
) -> list[dict[str, Any]]:
    replies = answerer.answer([question.turns for question in questions])
    return [
        {"question_id": question.question_id, "model_name": model_name, "answer": reply}
        for question, reply in zip(questions, replies, strict=True)
    ]


def _until_eos(ids: list[int], eos_token_id: int) -> list[int]:
    return ids[: ids.index(eos_token_id)] if eos_token_id in ids else ids


def _has_tokenizer(folder: Path | None) -> bool:
    return folder is not None and (folder / "tokenizer_config.json").is_file()
