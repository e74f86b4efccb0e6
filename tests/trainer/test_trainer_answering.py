"""`pasture-worker answer`: a trained model answers an evaluation's questions and the evaluation finishes.

The tiny 2-layer model answers nonsense, but greedily and so reproducibly; the service and the fake judge
take it from there.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.trainer.answering import Answerer, ModelSource, SamplingConfig, conversation_instruction
from app.trainer.cli import main
from app.trainer.config import TrainConfig
from app.trainer.errors import TrainerError
from app.trainer.template import ALPACA
from tests.conftest import LiveServer, make_settings
from tests.evaluation.conftest import (
    BASELINE_MODEL,
    JUDGE_MODEL,
    all_pages,
    register_model,
    upload_questions,
    wait_evaluation,
)
from tests.fake_teacher import FakeTeacher

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

QUESTIONS: list[dict[str, Any]] = [
    {"question_id": "q1", "category": "math", "turns": ["What is 7 + 8?"], "reference": ["15"]},
    {"question_id": "q2", "category": "writing", "turns": ["Write a haiku about rain."]},
    {
        "question_id": "q3",
        "category": "writing",
        "turns": ["Name a fruit that is yellow.", "Now name one that is red."],
    },
    {"question_id": "q4", "category": "roleplay", "turns": ["Say hello."]},
]
TURNS = [question["turns"] for question in QUESTIONS]


@pytest.fixture(scope="module")
def answerer(base_model_dir: Path) -> Answerer:
    return Answerer.load(ModelSource(str(base_model_dir)), SamplingConfig(max_new_tokens=12, batch_size=3))


class TestConversationInstruction:
    def test_the_first_turn_is_the_question_itself(self) -> None:
        assert conversation_instruction(["What is 7 + 8?"], []) == "What is 7 + 8?"

    def test_a_later_turn_carries_the_conversation_so_far(self) -> None:
        instruction = conversation_instruction(["Name a fruit.", "Another one."], ["A banana."])
        assert instruction == (
            "Previous conversation:\nUser: Name a fruit.\nAssistant: A banana.\n\n"
            "Now answer the user's next message:\nAnother one."
        )

    def test_replies_must_cover_every_earlier_turn(self) -> None:
        with pytest.raises(ValueError, match="2 turns need 1 earlier replies"):
            conversation_instruction(["a", "b"], [])


class TestAnswerer:
    def test_one_string_per_turn_of_each_question(self, answerer: Answerer) -> None:
        replies = answerer.answer(TURNS)
        assert [len(reply) for reply in replies] == [1, 1, 2, 1]
        assert all(isinstance(turn, str) for reply in replies for turn in reply)

    def test_greedy_answers_do_not_depend_on_batching_or_padding(self, base_model_dir: Path) -> None:
        def answers(batch_size: int) -> list[list[str]]:
            config = SamplingConfig(max_new_tokens=12, batch_size=batch_size)
            return Answerer.load(ModelSource(str(base_model_dir)), config).answer(TURNS)

        one_at_a_time = answers(1)
        assert answers(4) == one_at_a_time == answers(1)
        assert any(turn for reply in one_at_a_time for turn in reply)  # not all empty

    def test_the_reply_leaves_the_prompt_out_and_stops_at_max_new_tokens(
        self, base_model_dir: Path, answerer: Answerer
    ) -> None:
        prompt = ALPACA.render("Say hello.")
        (reply,) = answerer.generate([prompt])
        assert not reply.startswith("Below is an instruction")
        short = Answerer.load(ModelSource(str(base_model_dir)), SamplingConfig(max_new_tokens=3))
        (shorter,) = short.generate([prompt])
        # Greedy: the first 3 tokens of the 12 (a cut multi-byte character decodes as U+FFFD).
        assert len(shorter) < len(reply) and reply.startswith(shorter.rstrip("\ufffd"))

    def test_an_adapter_folder_that_is_not_there_is_refused_before_loading(self, tmp_path: Path) -> None:
        with pytest.raises(TrainerError, match="is not a LoRA adapter folder"):
            ModelSource("unused", adapter=tmp_path / "missing").check()

    def test_a_folder_that_is_not_a_run_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(TrainerError, match=r"has no pasture_train_config\.json"):
            ModelSource.from_run_dir(tmp_path)


class TestRunDir:
    def test_a_finished_lora_run_answers_with_its_adapter_base_and_template(
        self, base_model_dir: Path, train_file: Path, tmp_path: Path
    ) -> None:
        from app.trainer.train import train

        out = tmp_path / "run"
        train(
            TrainConfig.from_dict(
                {
                    "data_path": str(train_file),
                    "base_model": str(base_model_dir),
                    "output_dir": str(out),
                    "max_steps": 2,
                    "batch_size": 4,
                    "micro_batch_size": 4,
                }
            )
        )
        source = ModelSource.from_run_dir(out)
        assert (source.base_model, source.adapter, source.template) == (
            str(base_model_dir),
            out / "adapter",
            ALPACA,
        )
        replies = Answerer.load(source, SamplingConfig(max_new_tokens=6)).answer([["Say hello."]])
        assert len(replies) == 1 and len(replies[0]) == 1


# -- against the service ----------------------------------------------------------------------------------
@pytest.fixture
def server(sqlite_url: str) -> Iterator[LiveServer]:
    """The service with the fake teacher as the baseline and the judge."""
    with (
        FakeTeacher(api_key="sk-test-key", models=("fake-teacher", BASELINE_MODEL, JUDGE_MODEL)) as teacher,
        LiveServer(make_settings(sqlite_url, teacher)) as live,
    ):
        yield live


def waiting_evaluation(server: LiveServer) -> int:
    """An evaluation whose candidate is answered by a worker, waiting for its answers."""
    register_model(server, "run-1-adapter", answered_by="worker", model="run-1-adapter", training_run_id=1)
    register_model(server, "baseline", model=BASELINE_MODEL)
    register_model(server, "judge", model=JUDGE_MODEL)
    upload_questions(server, "four", QUESTIONS)
    response = server.client.post(
        "/api/v1/evaluations",
        json={"candidate": "run-1-adapter", "baseline": "baseline", "judge": "judge", "question_set": "four"},
    )
    assert response.status_code == 201, response.text
    evaluation_id = int(response.json()["id"])
    wait_evaluation(server, evaluation_id, "waiting")
    return evaluation_id


class TestAnswerCommand:
    def test_the_worker_answers_and_the_evaluation_is_judged(
        self,
        server: LiveServer,
        base_model_dir: Path,
        cli_command: tuple[list[str], dict[str, str], Path],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        evaluation_id = waiting_evaluation(server)
        argv, env, cwd = cli_command
        result = subprocess.run(
            [
                *argv, "answer",
                "--server", server.url,
                "--evaluation", str(evaluation_id),
                "--model-name", "run-1-adapter",
                "--base-model", str(base_model_dir),
                "--batch-size", "2",
                "--max-new-tokens", "16",
            ],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"posted 4 answers of 'run-1-adapter' to evaluation {evaluation_id}" in result.stdout

        evaluation = wait_evaluation(server, evaluation_id, "succeeded", "failed")
        assert evaluation["status"] == "succeeded", evaluation["status_reason"]
        answers = all_pages(server, f"/api/v1/evaluations/{evaluation_id}/answers", role="candidate")
        assert {a["source"] for a in answers} == {"worker"}
        assert sorted((a["question_id"], len(a["turns"])) for a in answers) == [
            ("q1", 1),
            ("q2", 1),
            ("q3", 2),
            ("q4", 1),
        ]
        report = server.client.get(f"/api/v1/evaluations/{evaluation_id}/report").json()
        assert report["overall"]["pairwise"]["judged"] == len(QUESTIONS)

        # A finished evaluation takes no more answers.
        assert main(self._args(server, evaluation_id, "run-1-adapter", base_model_dir)) == 2
        assert f"evaluation {evaluation_id} is succeeded; it takes no more answers" in capsys.readouterr().err

    def test_bad_input_is_one_line_and_exit_2(
        self, server: LiveServer, base_model_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        evaluation_id = waiting_evaluation(server)
        cases = [
            (self._args(server, 999, "run-1-adapter", base_model_dir), "HTTP 404"),
            (
                self._args(server, evaluation_id, "someone-else", base_model_dir),
                "model 'someone-else' is not part of evaluation",
            ),
            (
                self._args(server, evaluation_id, "baseline", base_model_dir),
                "model 'baseline' is answered by its endpoint",
            ),
            (
                [
                    *self._args(server, evaluation_id, "run-1-adapter", base_model_dir),
                    "--adapter",
                    str(tmp_path),
                ],
                "is not a LoRA adapter folder",
            ),
            (
                [*self._args(server, evaluation_id, "run-1-adapter", base_model_dir), "--batch-size", "0"],
                "--batch-size must be at least 1",
            ),
        ]
        for argv, message in cases:
            assert main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and err.startswith("pasture-worker answer: error:"), err
            assert message in err
        assert server.client.get(f"/api/v1/evaluations/{evaluation_id}").json()["status"] == "waiting"

    @staticmethod
    def _args(server: LiveServer, evaluation_id: int, model_name: str, base_model_dir: Path) -> list[str]:
        return [
            "answer",
            "--server", server.url,
            "--evaluation", str(evaluation_id),
            "--model-name", model_name,
            "--base-model", str(base_model_dir),
        ]  # fmt: skip
