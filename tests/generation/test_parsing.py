from __future__ import annotations

import pytest

from app.generation.parsing import parse_reply

CLEAN = """4. Instruction: Suggest a name for a bakery that sells only sourdough.
4. Input:
<noinput>
4. Output:
Wild Rise Bakery
###
5. Instruction: Classify the tone of the sentence as formal or informal.
5. Input:
Hey, wanna grab lunch later?
5. Output:
informal
###
"""


class TestParseReply:
    def test_reads_clean_records(self) -> None:
        records = parse_reply(CLEAN)
        assert [(r.instruction, r.input, r.output, r.problem) for r in records] == [
            ("Suggest a name for a bakery that sells only sourdough.", "", "Wild Rise Bakery", None),
            (
                "Classify the tone of the sentence as formal or informal.",
                "Hey, wanna grab lunch later?",
                "informal",
                None,
            ),
        ]

    def test_ignores_chat_preamble_and_closing_remark(self) -> None:
        reply = "Sure! Here are more tasks:\n\n" + CLEAN + "\nLet me know if you want more!"
        records = parse_reply(reply, first_number=4)
        assert len(records) == 2
        assert records[0].instruction.startswith("Suggest a name")
        assert records[1].output.startswith("informal")

    def test_completion_continues_after_the_open_label(self) -> None:
        reply = (
            " Name two prime numbers greater than 50.\n4. Input:\n<noinput>\n4. Output:\n53 and 59.\n###\n"
            "5. Instruction: Rewrite the sentence in the passive voice.\n5. Input:\nThe cat chased the mouse.\n"
            "5. Output:\nThe mouse was chased by the cat.\n###"
        )
        records = parse_reply(reply, first_number=4)
        assert [r.instruction for r in records] == [
            "Name two prime numbers greater than 50.",
            "Rewrite the sentence in the passive voice.",
        ]
        assert records[1].input == "The cat chased the mouse."

    def test_tolerates_markdown_bold_and_numbering_drift(self) -> None:
        reply = (
            "**7. Instruction:** Give a synonym for 'happy'.\n**7. Input:** <noinput>\n**7. Output:** Joyful.\n\n"
            "9) Instruction: List three renewable energy sources.\nInput: \nOutput: Solar, wind and hydro.\n"
        )
        records = parse_reply(reply)
        assert [(r.instruction, r.input, r.output) for r in records] == [
            ("Give a synonym for 'happy'.", "", "Joyful."),
            ("List three renewable energy sources.", "", "Solar, wind and hydro."),
        ]
        assert all(r.problem is None for r in records)

    def test_marks_the_last_record_truncated_when_the_reply_hit_max_tokens(self) -> None:
        reply = (
            CLEAN
            + "6. Instruction: Explain why the sky is blue.\n6. Input:\n<noinput>\n6. Output:\nSunlight sc"
        )
        records = parse_reply(reply, truncated=True)
        assert [r.problem for r in records] == [None, None, "truncated"]

    def test_a_complete_reply_is_not_truncated(self) -> None:
        assert all(r.problem is None for r in parse_reply(CLEAN, truncated=False))

    def test_garbage_is_one_unparsable_candidate(self) -> None:
        records = parse_reply("I like turtles. There is nothing else here.")
        assert len(records) == 1
        assert records[0].problem == "unparsable"

    def test_record_without_output_is_unparsable(self) -> None:
        records = parse_reply("4. Instruction: Do something useful with words.\n4. Input:\n<noinput>\n###\n")
        assert records[0].problem == "unparsable"

    @pytest.mark.parametrize("marker", ["<noinput>", "<No Input>", "N/A", "None", "", "없음"])
    def test_no_input_markers_become_empty(self, marker: str) -> None:
        reply = f"1. Instruction: Tell a joke about cats please.\n1. Input:\n{marker}\n1. Output:\nMeow.\n###"
        assert parse_reply(reply)[0].input == ""

    def test_multiline_outputs_and_code_survive(self) -> None:
        reply = (
            "1. Instruction: Write a Python function that doubles a number.\n1. Input:\n<noinput>\n1. Output:\n"
            "def double(x):\n    return 2 * x\n###\n"
        )
        assert parse_reply(reply)[0].output == "def double(x):\n    return 2 * x"

    def test_korean_records(self) -> None:
        reply = (
            "4. Instruction: 다음 문장을 존댓말로 바꿔 주세요.\n4. Input:\n밥 먹었어?\n4. Output:\n식사하셨어요?\n###\n"
            "5. Instruction: 한국의 수도는 어디인가요?\n5. Input:\n<noinput>\n5. Output:\n서울입니다.\n###"
        )
        records = parse_reply(reply, first_number=4)
        assert [(r.instruction, r.input, r.output) for r in records] == [
            ("다음 문장을 존댓말로 바꿔 주세요.", "밥 먹었어?", "식사하셨어요?"),
            ("한국의 수도는 어디인가요?", "", "서울입니다."),
        ]

    def test_keeps_raw_text_of_each_record(self) -> None:
        records = parse_reply(CLEAN)
        assert records[0].raw.startswith("4. Instruction:")
        assert "Wild Rise Bakery" in records[0].raw

    def test_positions_are_sequential(self) -> None:
        assert [r.position for r in parse_reply(CLEAN)] == [0, 1]

    def test_empty_reply_has_no_candidates(self) -> None:
        assert parse_reply("   ") == []
