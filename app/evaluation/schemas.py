from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.schemas import Schema

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


# -- question sets ----------------------------------------------------------------------------------------
class QuestionRead(Schema):
    question_id: str
    category: str
    turns: list[str]
    reference: list[str] | None


class QuestionSetRead(Schema):
    id: int
    name: str
    description: str
    source: str
    sha256: str
    question_count: int
    categories: list[str]
    created_at: datetime


class QuestionSetDetail(QuestionSetRead):
    questions: list[QuestionRead]


# -- models -----------------------------------------------------------------------------------------------
class _ModelFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=2000)
    base_url: str | None = Field(
        default=None,
        max_length=500,
        description="OpenAI-compatible server, e.g. http://127.0.0.1:8001/v1 for vLLM; "
        "default OPENAI_BASE_URL.",
    )
    api_key_env: str | None = Field(
        default=None,
        pattern=ENV_PATTERN,
        description="Name of the environment variable that holds this server's key (default "
        "OPENAI_API_KEY). Keys themselves are never sent to or stored by Pasture.",
    )
    system_prompt: str | None = Field(default=None, max_length=20_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=16, le=200_000, description="Per answer turn.")
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)
    price_input_per_mtok: float | None = Field(
        default=None, ge=0, description="USD per million prompt tokens."
    )
    price_output_per_mtok: float | None = Field(
        default=None, ge=0, description="USD per million completion tokens."
    )
    training_run_id: int | None = Field(default=None, ge=1, description="The training run that made it.")
    export_id: int | None = Field(default=None, ge=1, description="The export snapshot it was trained on.")


class ModelCreate(_ModelFields):
    name: str = Field(pattern=NAME_PATTERN, description="Pasture's name for it; unique.")
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The model's name on its server (required when answered_by is 'endpoint').",
    )
    answered_by: Literal["endpoint", "worker"] = Field(
        default="endpoint",
        description="'endpoint': Pasture asks the server. 'worker': a worker posts the answers "
        "(POST /api/v1/evaluations/{id}/answers), e.g. from a training run's adapter.",
    )

    @model_validator(mode="after")
    def _endpoint_needs_a_model(self) -> ModelCreate:
        if self.answered_by == "endpoint" and self.model is None:
            raise ValueError("model: name the model as its server knows it (e.g. 'gpt-4o-mini')")
        return self


class ModelUpdate(_ModelFields):
    model: str | None = Field(default=None, min_length=1, max_length=200)


class ModelRead(Schema):
    id: int
    name: str
    description: str
    answered_by: str
    base_url: str | None
    model: str
    api_key_env: str | None
    system_prompt: str | None
    temperature: float
    max_tokens: int
    requests_per_minute: int | None
    tokens_per_minute: int | None
    price_input_per_mtok: float
    price_output_per_mtok: float
    training_run_id: int | None
    export_id: int | None
    created_at: datetime


# -- evaluations ------------------------------------------------------------------------------------------
class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate: str = Field(description="Name of the model under test (see /api/v1/models).")
    baseline: str = Field(description="Name of the model it is compared with.")
    judge: str = Field(description="Name of the judge model; it must be answered by its endpoint.")
    question_set: str = Field(default="pasture-questions", description="Question set name.")
    name: str | None = Field(default=None, max_length=300, description="Optional unique name.")
    pairwise: bool = Field(default=True, description="Judge candidate against baseline, in both orders.")
    single: bool = Field(
        default=True, description="Grade each answer alone on 1-10 (gives Vicuna's relative score)."
    )
    reference_categories: list[str] = Field(
        default_factory=lambda: ["math", "reasoning", "coding"],
        description="Categories whose questions are graded against their reference answer, "
        "when they have one.",
    )
    judge_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    judge_max_tokens: int = Field(default=1024, ge=16, le=200_000)
    concurrency: int = Field(default=4, ge=1, le=256, description="Calls in flight at once.")
    bootstrap_samples: int = Field(default=2000, ge=100, le=100_000)
    seed: int = Field(default=0, description="Seed of the bootstrap resampling.")

    @field_validator("reference_categories")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return sorted({item.strip().lower() for item in value if item.strip()})

    @model_validator(mode="after")
    def _something_to_judge(self) -> EvaluationCreate:
        if not (self.pairwise or self.single):
            raise ValueError("pairwise and single are both off: turn on at least one")
        return self


class EvaluationProgress(BaseModel):
    questions: int
    answers_expected: int
    answers_stored: int
    judgments_expected: int
    judgments_done: int


class EvaluationRead(Schema):
    id: int
    name: str | None
    status: str
    status_reason: str | None
    question_set: str
    candidate: str
    baseline: str
    judge: str
    pairwise: bool
    single: bool
    reference_categories: list[str]
    judge_temperature: float
    judge_max_tokens: int
    concurrency: int
    bootstrap_samples: int
    seed: int
    progress: EvaluationProgress
    answer_calls_failed: int
    judge_calls: int
    judge_calls_failed: int
    judge_unparsable: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    active_seconds: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class EvaluationCreated(Schema):
    id: int
    status: str


class AnswerRead(Schema):
    id: int
    question_id: str
    category: str
    role: str
    model: str
    source: str
    turns: list[str]
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float | None
    created_at: datetime


class PostedAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_id: str | int = Field(description="The question's id in its set.")
    model_name: str = Field(description="The candidate's or the baseline's name in /api/v1/models.")
    answer: str | list[str] = Field(description="The answer; a list gives one answer per turn.")
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    latency_ms: float | None = Field(default=None, ge=0)


class AnswersPost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[PostedAnswer] = Field(min_length=1, max_length=10_000)


class AnswersPosted(BaseModel):
    stored: int
    already_stored: list[str] = Field(
        description="question_ids whose answer was stored before; kept as it was."
    )
    missing: dict[str, int] = Field(description="Answers still missing, by model name.")
    status: str


class JudgmentRead(Schema):
    id: int
    question_id: str
    category: str
    kind: str
    target: str
    status: str
    model: str
    reference_used: bool
    verdict: str | None
    winner: str | None
    score: float | None
    explanation: str | None
    problem: str | None
    error: str | None
    raw_reply: str | None
    messages: list[dict[str, str]]
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float | None
    attempts: int
    created_at: datetime


# -- report -----------------------------------------------------------------------------------------------
class IntervalRead(Schema):
    low: float
    high: float


class PairwiseRead(Schema):
    judged: int
    wins: int
    ties: int
    losses: int
    win_rate: float | None
    tie_rate: float | None
    loss_rate: float | None
    win_rate_ci: IntervalRead | None
    tie_rate_ci: IntervalRead | None
    loss_rate_ci: IntervalRead | None
    flipped: int
    flip_rate: float | None
    verdicts: int
    first_shown_preferred: int
    second_shown_preferred: int
    tied_verdicts: int


class ScoresRead(Schema):
    graded: int
    candidate_total: float
    baseline_total: float
    candidate_mean: float | None
    baseline_mean: float | None
    relative_score: float | None
    relative_score_ci: IntervalRead | None


class LengthsRead(Schema):
    compared: int
    candidate_mean_chars: float | None
    baseline_mean_chars: float | None
    mean_char_difference: float | None
    mean_word_difference: float | None
    decided_with_length_difference: int
    longer_answer_won: int
    longer_answer_win_rate: float | None


class GroupRead(Schema):
    category: str | None
    questions: int
    pairwise: PairwiseRead
    scores: ScoresRead
    lengths: LengthsRead


class ModelLink(BaseModel):
    name: str
    model: str
    answered_by: str
    base_url: str | None
    training_run_id: int | None
    export_id: int | None


class CallCosts(BaseModel):
    calls: int
    failed: int
    unparsable: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class ReportRead(BaseModel):
    evaluation_id: int
    status: str
    question_set: str
    candidate: ModelLink
    baseline: ModelLink
    judge: ModelLink
    complete: bool = Field(description="Every answer and judgment is in; otherwise the numbers are partial.")
    confidence: float
    bootstrap_samples: int
    seed: int
    overall: GroupRead
    categories: list[GroupRead]
    judge_costs: CallCosts
    answer_costs: CallCosts
