from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.trainer.data import (
    IGNORE_INDEX,
    AlpacaRecord,
    CompletionCollator,
    EncodedExample,
    EncodingStats,
    ExampleEncoder,
    SupervisedDataset,
    read_alpaca_jsonl,
)
from app.trainer.errors import DataError
from app.trainer.template import ALPACA, PromptTemplate


def _record(row: dict[str, str]) -> AlpacaRecord:
    return AlpacaRecord(row["instruction"], row["input"], row["output"])


def _collate(collator: CompletionCollator, examples: list[EncodedExample]) -> dict[str, Any]:
    """Batch the dataset's items as the Trainer's data loader hands them to the collator."""
    dataset = SupervisedDataset(examples)
    return collator([dataset[index] for index in range(len(dataset))])


def _response_part(ids: list[int], labels: list[int]) -> list[int]:
    return [token for token, label in zip(ids, labels, strict=True) if label != IGNORE_INDEX]


class TestLossOnResponseOnly:
    @pytest.fixture
    def encoder(self, tiny_tokenizer: Any) -> ExampleEncoder:
        return ExampleEncoder(tiny_tokenizer, ALPACA, max_length=512, overlong="truncate")

    @pytest.mark.parametrize(
        "row",
        [
            {"instruction": "Name a fruit that is yellow.", "input": "", "output": "A banana."},
            {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour."},
            {"instruction": "한국의 수도는 어디인가요?", "input": "", "output": "서울입니다."},
            {"instruction": "다음 문장을 영어로 번역하세요.", "input": "안녕하세요", "output": "Hello."},
        ],
        ids=["no-input", "with-input", "korean", "korean-with-input"],
    )
    def test_collated_batch_masks_the_prompt_and_ends_with_eos(
        self, encoder: ExampleEncoder, tiny_tokenizer: Any, row: dict[str, str]
    ) -> None:
        short = {"instruction": "Hi.", "input": "", "output": "Yo."}
        examples, stats = encoder.encode_all([_record(row), _record(short)])
        batch = _collate(CompletionCollator(pad_token_id=tiny_tokenizer.pad_token_id), examples)

        ids, labels, mask = (batch[key][0].tolist() for key in ("input_ids", "labels", "attention_mask"))
        prompt = ALPACA.render(row["instruction"], row["input"])
        prompt_ids = tiny_tokenizer(prompt)["input_ids"]  # with the leading BOS, as at inference
        assert ids[: len(prompt_ids)] == prompt_ids
        assert labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
        assert labels[len(prompt_ids)] != IGNORE_INDEX, "the first response token must be learned"
        response = _response_part(ids, labels)
        assert response[-1] == tiny_tokenizer.eos_token_id
        assert tiny_tokenizer.decode(response[:-1]) == row["output"]
        assert tiny_tokenizer.decode(ids[: sum(mask)], skip_special_tokens=True) == prompt + row["output"]
        assert stats.boundary_retokenized == 0

    def test_padding_is_masked_out_of_loss_and_attention(
        self, encoder: ExampleEncoder, tiny_tokenizer: Any
    ) -> None:
        rows = [
            {"instruction": "Hi.", "input": "", "output": "Yo."},
            {"instruction": "Describe the sea at length.", "input": "calm", "output": "Wide, blue and deep."},
        ]
        examples, _ = encoder.encode_all([_record(row) for row in rows])
        batch = _collate(
            CompletionCollator(pad_token_id=tiny_tokenizer.pad_token_id, pad_to_multiple_of=8), examples
        )
        assert batch["input_ids"].shape[1] % 8 == 0
        for row, example in enumerate(examples):
            length = len(example.input_ids)
            assert batch["attention_mask"][row, :length].all()
            assert not batch["attention_mask"][row, length:].any()
            assert (batch["labels"][row, length:] == IGNORE_INDEX).all()
            assert batch["labels"][row, length - 1] == tiny_tokenizer.eos_token_id

    def test_a_boundary_the_tokenizer_merges_across_falls_back_to_separate_tokenization(
        self, tiny_tokenizer: Any
    ) -> None:
        # The prompt ends mid-word, so the joint tokenization merges across the boundary.
        template = PromptTemplate("glued", "{instruction} {input} Respon", "{instruction} Respon")
        encoder = ExampleEncoder(tiny_tokenizer, template, max_length=512, overlong="truncate")
        stats = EncodingStats()
        example = encoder.encode(AlpacaRecord("Say it.", "", "se"), stats)

        assert example is not None
        prompt_ids = tiny_tokenizer("Say it. Respon")["input_ids"]
        assert example.input_ids[: len(prompt_ids)] == prompt_ids
        response = _response_part(example.input_ids, example.labels)
        assert response == [
            *tiny_tokenizer("se", add_special_tokens=False)["input_ids"],
            tiny_tokenizer.eos_token_id,
        ]
        assert stats.boundary_retokenized == 1


class TestOverlongExamples:
    RECORD = AlpacaRecord("Count.", "", "one two three four five six seven eight nine ten " * 4)

    def test_truncate_keeps_the_prompt_cuts_the_response_and_adds_no_eos(self, tiny_tokenizer: Any) -> None:
        prompt_length = len(tiny_tokenizer(ALPACA.render("Count."))["input_ids"])
        encoder = ExampleEncoder(tiny_tokenizer, ALPACA, max_length=prompt_length + 5, overlong="truncate")
        stats = EncodingStats()
        example = encoder.encode(self.RECORD, stats)

        assert example is not None
        assert len(example.input_ids) == prompt_length + 5
        assert example.labels[-1] != tiny_tokenizer.eos_token_id
        assert (stats.truncated, stats.dropped_too_long, stats.examples) == (1, 0, 1)

    def test_drop_skips_the_example_and_counts_it(self, tiny_tokenizer: Any) -> None:
        encoder = ExampleEncoder(tiny_tokenizer, ALPACA, max_length=64, overlong="drop")
        fits = AlpacaRecord("Hi.", "", "Yo.")
        examples, stats = encoder.encode_all([self.RECORD, fits])
        assert len(examples) == 1
        assert (stats.records, stats.examples, stats.truncated, stats.dropped_too_long) == (2, 1, 0, 1)

    def test_a_prompt_that_fills_max_length_is_dropped_even_when_truncating(
        self, tiny_tokenizer: Any
    ) -> None:
        encoder = ExampleEncoder(tiny_tokenizer, ALPACA, max_length=10, overlong="truncate")
        examples, stats = encoder.encode_all([AlpacaRecord("Hi.", "", "Yo.")])
        assert examples == []
        assert stats.dropped_too_long == 1


class TestReadAlpacaJsonl:
    def test_reads_records_with_and_without_input(
        self, train_file: Path, records: list[dict[str, str]]
    ) -> None:
        loaded = read_alpaca_jsonl(train_file)
        assert [record.output for record in loaded] == [row["output"] for row in records]

    def test_every_malformed_line_is_reported_with_its_number(
        self, tmp_path: Path, write_jsonl: Callable[[Path, list[dict[str, Any]]], Path]
    ) -> None:
        path = write_jsonl(
            tmp_path / "bad.jsonl",
            [
                {"instruction": "Fine.", "input": "", "output": "Yes."},
                {"instruction": "", "input": "", "output": "No instruction."},
                {"instruction": "No output.", "input": ""},
            ],
        )
        with path.open("a", encoding="utf-8") as handle:
            handle.write("{not json\n")
        with pytest.raises(DataError) as raised:
            read_alpaca_jsonl(path)
        message = str(raised.value)
        assert "3 malformed records" in message
        assert (
            "line 2: instruction" in message and "line 3: output" in message and "line 4: not JSON" in message
        )
