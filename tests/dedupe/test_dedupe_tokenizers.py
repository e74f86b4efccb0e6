from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import tokenize as rouge_tokenize

from app.dedupe import tokenize, tokenizer_for_language
from app.dedupe.tokenizers import HangulMode, tokenize_rouge, tokenize_unicode

# Characters that stress rouge-score's tokenizer: letters that lower-case to ASCII only through Unicode
# rules, accents, digits, punctuation, whitespace of every kind, and scripts it drops.
TRICKY = "aZ09 _-.,!?\t\n\r\x0b\x0c\u00a0\u2028KİßÉéçΣσ𝐀Ａ１二한국어カタ\u0301\ufe0f"


class TestRougeTokenizer:
    @settings(max_examples=400, deadline=None, database=None)
    @given(st.text(alphabet=st.sampled_from(TRICKY)) | st.text())
    def test_matches_rouge_score_on_any_text(self, text: str) -> None:
        assert tokenize_rouge(text) == rouge_tokenize.tokenize(text, None)

    def test_matches_rouge_score_on_the_alpaca_instructions(self, alpaca_instructions: list[str]) -> None:
        for text in alpaca_instructions[:5000]:
            assert tokenize_rouge(text) == rouge_tokenize.tokenize(text, None)

    def test_keeps_ascii_letters_that_unicode_lower_cases_into(self) -> None:
        # "K" (Kelvin sign) lowers to "k"; "İ" lowers to "i" + a combining dot, which separates.
        assert tokenize_rouge("\u212aelvin İstanbul") == ["kelvin", "i", "stanbul"]

    def test_drops_korean_entirely(self) -> None:
        assert tokenize_rouge("건강을 유지하기 위한 세 가지 팁") == []


class TestUnicodeTokenizer:
    @settings(max_examples=300, deadline=None, database=None)
    @given(st.text(), st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), st.text())
    def test_korean_text_never_tokenizes_to_nothing(self, before: str, syllable: str, after: str) -> None:
        for mode in HangulMode:
            assert tokenize_unicode(before + syllable + after, mode)

    def test_korean_instructions_all_have_tokens(self, korean_instructions: list[str]) -> None:
        assert all(tokenize(text, "unicode") for text in korean_instructions)

    def test_keeps_eojeol_whole_by_default(self) -> None:
        assert tokenize("세 가지 팁을 AI로", "unicode") == ["세", "가지", "팁을", "ai로"]

    def test_cuts_hangul_into_syllables_in_syllable_mode(self) -> None:
        assert tokenize_unicode("세 가지 팁을 AI로", HangulMode.SYLLABLE) == [
            "세",
            "가",
            "지",
            "팁",
            "을",
            "ai",
            "로",
        ]

    def test_makes_each_ideograph_and_kana_a_token(self) -> None:
        assert tokenize("iPhone用户カタカナ", "unicode") == ["iphone", "用", "户", "カ", "タ", "カ", "ナ"]

    def test_normalises_width_and_case(self) -> None:
        assert tokenize("ＡＢＣ ｶﾀ Straße CAFÉ", "unicode") == ["abc", "カ", "タ", "strasse", "café"]

    def test_keeps_combining_marks_inside_words(self) -> None:
        assert tokenize("हिन्दी भाषा", "unicode") == ["हिन्दी", "भाषा"]

    def test_treats_symbols_underscores_and_lone_marks_as_separators(self) -> None:
        assert tokenize("snake_case ❤️ 3.14 \u0301", "unicode") == ["snake", "case", "3", "14"]

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.text())
    def test_tokens_are_never_empty_and_never_hold_separators(self, text: str) -> None:
        for token in tokenize(text, "unicode"):
            assert token
            assert not any(c.isspace() or c == "_" for c in token)


class TestTokenizerChoice:
    @pytest.mark.parametrize(
        ("language", "expected"),
        [
            ("en", "rouge"),
            ("EN", "rouge"),
            ("en-US", "rouge"),
            ("en_GB", "rouge"),
            ("ko", "unicode"),
            ("zh-Hans", "unicode"),
            ("ja", "unicode"),
            ("", "unicode"),
        ],
    )
    def test_english_gets_rouge_and_everything_else_unicode(self, language: str, expected: str) -> None:
        assert tokenizer_for_language(language) == expected

    def test_rejects_an_unknown_tokenizer_by_name(self) -> None:
        with pytest.raises(ValueError, match="rouge, unicode"):
            tokenize("text", "whitespace")
