from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.generation.filters import Reason, build_policy, check_record
from app.generation.languages import get_language
from app.generation.parsing import ParsedRecord

EN = get_language("en")
KO = get_language("ko")


def rec(instruction: str, output: str = "A fine answer.", input: str = "") -> ParsedRecord:
    return ParsedRecord(0, instruction, input, output, raw="")


def reason(record: ParsedRecord, language: str = "en", **overrides: object) -> str | None:
    lang = get_language(language)
    assert lang is not None
    verdict = check_record(record, build_policy(language, overrides or None), lang)
    return None if verdict is None else verdict[0]


class TestEnglishPolicy:
    def test_keeps_a_good_record(self) -> None:
        assert reason(rec("Explain why leaves change colour in autumn.")) is None

    @pytest.mark.parametrize(
        ("instruction", "expected"),
        [
            ("Summarise this.", Reason.TOO_SHORT),
            ("word " * 151, Reason.TOO_LONG),
            ("Describe the image of a sunset over the sea.", Reason.BLACKLISTED_WORD),
            ("Draw a picture of a happy dog please.", Reason.BLACKLISTED_WORD),
            ("Write a program that sorts a list of numbers.", Reason.PROGRAM_REQUEST),
            ("- List three fruits that are red.", Reason.LEADING_PUNCTUATION),
        ],
    )
    def test_alpaca_rules(self, instruction: str, expected: str) -> None:
        assert reason(rec(instruction)) == expected

    def test_blacklist_matches_whole_words_only(self) -> None:
        assert (
            reason(rec("Explain how a profile picture differs from a portrait.")) == Reason.BLACKLISTED_WORD
        )
        assert reason(rec("Explain how profiles differ from bios on social sites.")) is None

    def test_rejects_refusals(self) -> None:
        record = rec("Tell me the weather in Paris tomorrow.", "As an AI language model, I cannot browse.")
        assert reason(record) == Reason.REFUSAL

    def test_rejects_empty_output(self) -> None:
        assert reason(rec("Give an example of a palindrome word.", "  ")) == Reason.EMPTY_OUTPUT
        assert reason(rec("Give an example of a palindrome word.", "<nooutput>")) == Reason.EMPTY_OUTPUT

    def test_rejects_wrong_language(self) -> None:
        assert reason(rec("다음 문장을 영어로 번역하세요 제발.")) == Reason.WRONG_LANGUAGE

    def test_overrides_change_the_policy(self) -> None:
        assert reason(rec("Summarise this."), min_instruction_words=2) is None

    def test_unknown_override_is_a_clear_error(self) -> None:
        with pytest.raises(InvalidInput, match="unknown option"):
            build_policy("en", {"min_words": 2})


class TestKoreanPolicy:
    def test_keeps_korean_that_starts_with_a_non_ascii_character(self) -> None:
        assert (
            reason(rec("한국의 전통 음식 세 가지를 소개해 주세요.", "김치, 불고기, 비빔밥입니다."), "ko")
            is None
        )

    def test_blacklist_matches_inside_words_with_particles(self) -> None:
        record = rec("이 사진을 보고 설명해 주세요.", "설명입니다.")
        assert reason(record, "ko") == Reason.BLACKLISTED_WORD

    def test_rejects_english_in_a_korean_job(self) -> None:
        assert reason(rec("Explain photosynthesis in simple words.", "Plants make food."), "ko") == (
            Reason.WRONG_LANGUAGE
        )

    def test_rejects_korean_refusals(self) -> None:
        record = rec("내일 서울 날씨를 알려 주세요.", "AI 언어 모델로서 실시간 정보를 제공할 수 없습니다.")
        assert reason(record, "ko") == Reason.REFUSAL
