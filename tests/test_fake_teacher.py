"""The fake teacher speaks OpenAI's protocol well enough for the openai client, and bills what it serves."""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import fake_teacher
from tests.fake_teacher import FakeTeacher, count_tokens, read_prompt, truncate_to_tokens

API_KEY = "sk-pasture-test"
MODEL = "fake-teacher"
REPO_ROOT = Path(__file__).resolve().parent.parent

EXAMPLES = """1. Instruction: Give three tips for staying focused while studying.
1. Input:
<noinput>
1. Output:
1) Put your phone in another room.
2) Study in 25-minute blocks.
3) Keep water nearby.
###
2. Instruction: Classify the sentiment of the review as positive or negative.
2. Input:
The soup was cold and the waiter ignored us.
2. Output:
negative
###
3. Instruction:"""

ENGLISH_PROMPT = (
    "You are asked to come up with a list of 20 diverse task instructions in English. These task "
    "instructions "
    "will be given to a language model and we will evaluate how well it completes them.\n\n" + EXAMPLES
)

KOREAN_PROMPT = """You are asked to come up with a list of 20 diverse task instructions written in Korean.

1. Instruction: 공부할 때 집중력을 유지하는 방법 세 가지를 알려 주세요.
1. Input:
<noinput>
1. Output:
1) 휴대폰을 다른 방에 두세요.
###
2. Instruction: 다음 리뷰의 감정을 긍정 또는 부정으로 분류하세요.
2. Input:
국이 식어 있었고 직원이 우리를 무시했어요.
2. Output:
부정
###
3. Instruction:"""

INSTRUCTION_LINE = re.compile(r"^(\d+)\. Instruction: (.+)$", re.MULTILINE)
BLACKLIST = (
    *("image", "graph", "picture", "file", "map", "draw", "plot", "go to", "video", "audio", "music"),
    *("flowchart", "diagram", "program"),
)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture
def teacher() -> Iterator[FakeTeacher]:
    with FakeTeacher(api_key=API_KEY, seed=7) as fake:
        yield fake


@pytest.fixture
def client(teacher: FakeTeacher) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=teacher.base_url, api_key=API_KEY, max_retries=0, timeout=10) as api:
        yield api


def chat(client: openai.OpenAI, prompt: str = ENGLISH_PROMPT, **options: Any) -> Any:
    options.setdefault("max_tokens", 8000)
    return client.chat.completions.create(
        model=options.pop("model", MODEL),
        messages=[{"role": "user", "content": prompt}],
        temperature=1.0,
        top_p=1.0,
        **options,
    )


def instructions_in(text: str) -> list[str]:
    return [match.group(2) for match in INSTRUCTION_LINE.finditer(text)]


def numbers_in(text: str) -> list[int]:
    return [int(match.group(1)) for match in INSTRUCTION_LINE.finditer(text)]


def rouge_l(a: str, b: str) -> float:
    first, second = re.findall(r"[a-z0-9]+", a.lower()), re.findall(r"[a-z0-9]+", b.lower())
    previous = [0] * (len(second) + 1)
    for token in first:
        current = [0]
        for index, other in enumerate(second):
            current.append(
                previous[index] + 1 if token == other else max(previous[index + 1], current[index])
            )
        previous = current
    return 2 * previous[-1] / (len(first) + len(second))


class TestChatCompletions:
    def test_reply_continues_the_numbered_list(self, client: openai.OpenAI) -> None:
        response = chat(client)

        content = response.choices[0].message.content
        assert response.choices[0].finish_reason == "stop"
        assert response.model == MODEL
        assert numbers_in(content) == list(range(3, 21))
        assert content.count("###") == 18
        for number in range(3, 21):
            assert f"\n{number}. Input:\n" in content
            assert f"\n{number}. Output:\n" in content

    def test_usage_is_what_the_ledger_billed(self, client: openai.OpenAI, teacher: FakeTeacher) -> None:
        response = chat(client, extra_headers={"X-Pasture-Call-Id": "41"})

        usage = response.usage
        assert usage is not None
        assert usage.prompt_tokens == count_tokens(ENGLISH_PROMPT)
        assert usage.completion_tokens == count_tokens(response.choices[0].message.content)
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        [entry] = teacher.ledger()
        assert entry["call_id"] == 41
        assert entry["status"] == 200
        assert entry["endpoint"] == "/v1/chat/completions"
        assert entry["model"] == MODEL
        assert entry["behaviour"] == "ok"
        assert (entry["prompt_tokens"], entry["completion_tokens"]) == (
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        assert teacher.billed_prompt_tokens == usage.prompt_tokens
        assert teacher.billed_completion_tokens == usage.completion_tokens
        assert teacher.requests == 1

    def test_max_tokens_cuts_the_reply_with_finish_reason_length(self, client: openai.OpenAI) -> None:
        response = chat(client, max_tokens=60)

        assert response.choices[0].finish_reason == "length"
        assert response.usage is not None
        assert response.usage.completion_tokens == count_tokens(response.choices[0].message.content) <= 60

    def test_stop_sequence_ends_the_reply_early(self, client: openai.OpenAI) -> None:
        response = chat(client, stop=["\n10. Instruction"])

        assert response.choices[0].finish_reason == "stop"
        assert numbers_in(response.choices[0].message.content) == list(range(3, 10))

    def test_ratelimit_headers_come_with_every_reply(self) -> None:
        headers = {"x-ratelimit-remaining-requests": "99", "x-ratelimit-limit-tokens": "40000"}
        with (
            FakeTeacher(ratelimit_headers=headers) as fake,
            openai.OpenAI(base_url=fake.base_url, api_key="any", max_retries=0) as api,
        ):
            raw = api.chat.completions.with_raw_response.create(
                model=MODEL, messages=[{"role": "user", "content": ENGLISH_PROMPT}]
            )

        assert raw.headers["x-ratelimit-remaining-requests"] == "99"
        assert raw.headers["x-ratelimit-limit-tokens"] == "40000"


class TestCompletions:
    def test_reply_carries_on_from_the_open_instruction_line(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        response = client.completions.create(
            model=MODEL, prompt=ENGLISH_PROMPT, max_tokens=8000, extra_headers={"X-Pasture-Call-Id": "7"}
        )

        text = response.choices[0].text
        assert re.match(r" [A-Z]", text)
        assert numbers_in(ENGLISH_PROMPT + text)[2:] == list(range(3, 21))
        assert response.usage is not None
        [entry] = teacher.ledger()
        assert entry["endpoint"] == "/v1/completions"
        assert entry["call_id"] == 7
        assert entry["completion_tokens"] == response.usage.completion_tokens == count_tokens(text)

    def test_a_list_of_prompts_gets_one_choice_each(self, client: openai.OpenAI) -> None:
        response = client.completions.create(
            model=MODEL, prompt=[ENGLISH_PROMPT, KOREAN_PROMPT], max_tokens=8000
        )

        english, korean = response.choices
        assert not HANGUL.search(english.text)
        assert HANGUL.search(korean.text)


class TestFaults:
    def test_429_raises_rate_limit_error_with_retry_after(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        teacher.script("429", "429:0.2")

        with pytest.raises(openai.RateLimitError) as first:
            chat(client)
        with pytest.raises(openai.RateLimitError) as second:
            chat(client)

        assert first.value.response.headers["retry-after"] == "1"
        assert second.value.response.headers["retry-after"] == "0.2"
        assert first.value.code == "rate_limit_exceeded"
        assert chat(client).choices[0].finish_reason == "stop"  # the script is used up
        assert [entry["status"] for entry in teacher.ledger()] == [429, 429, 200]

    def test_server_errors_raise_internal_server_error(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        teacher.script("500", "503")

        with pytest.raises(openai.InternalServerError) as first:
            chat(client)
        with pytest.raises(openai.InternalServerError) as second:
            chat(client)

        assert (first.value.status_code, second.value.status_code) == (500, 503)

    def test_scripted_400_is_a_bad_request(self, client: openai.OpenAI, teacher: FakeTeacher) -> None:
        teacher.script("400")

        with pytest.raises(openai.BadRequestError) as error:
            chat(client)

        assert error.value.code == "context_length_exceeded"

    def test_wrong_api_key_is_rejected(self, teacher: FakeTeacher) -> None:
        with (
            openai.OpenAI(base_url=teacher.base_url, api_key="sk-wrong", max_retries=0) as api,
            pytest.raises(openai.AuthenticationError) as error,
        ):
            chat(api)

        assert error.value.code == "invalid_api_key"
        assert teacher.ledger()[0]["status"] == 401
        assert teacher.billed_prompt_tokens == 0

    def test_scripted_401_rejects_even_the_right_key(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        teacher.script("401")

        with pytest.raises(openai.AuthenticationError):
            chat(client)

    def test_unknown_model_is_not_found(self, client: openai.OpenAI) -> None:
        with pytest.raises(openai.NotFoundError) as error:
            chat(client, model="gpt-unknown")

        assert error.value.code == "model_not_found"

    def test_hangup_is_a_connection_error(self, client: openai.OpenAI, teacher: FakeTeacher) -> None:
        teacher.script("hangup")

        with pytest.raises(openai.APIConnectionError) as error:
            chat(client)

        assert not isinstance(error.value, openai.APITimeoutError)
        assert teacher.ledger()[0]["status"] is None

    def test_slow_reply_runs_into_the_client_timeout(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        teacher.script("slow:1")
        started = time.monotonic()

        with pytest.raises(openai.APITimeoutError):
            chat(client.with_options(timeout=0.2))

        assert time.monotonic() - started < 0.9

    def test_refusal_keeps_the_layout_but_refuses_in_the_outputs(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        teacher.script("refusal")

        content = chat(client).choices[0].message.content

        assert numbers_in(content) == list(range(3, 21))
        assert "As an AI language model" in content

    def test_garbage_has_no_records(self, client: openai.OpenAI, teacher: FakeTeacher) -> None:
        teacher.script("garbage")

        response = chat(client)

        assert response.choices[0].finish_reason == "stop"
        assert "Instruction:" not in response.choices[0].message.content
        assert teacher.ledger()[0]["status"] == 200

    def test_truncate_cuts_the_last_record(self, client: openai.OpenAI, teacher: FakeTeacher) -> None:
        teacher.script("truncate")

        response = chat(client)

        content = response.choices[0].message.content
        assert response.choices[0].finish_reason == "length"
        assert not content.rstrip().endswith("###")
        assert response.usage is not None
        assert response.usage.completion_tokens == count_tokens(content)

    def test_duplicates_repeat_earlier_instructions(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        earlier = instructions_in(chat(client).choices[0].message.content) + instructions_in(EXAMPLES)
        teacher.script("duplicates")

        repeated = instructions_in(chat(client).choices[0].message.content)

        assert len(repeated) == 18
        for instruction in repeated:
            assert any(rouge_l(instruction, original) >= 0.7 for original in earlier), instruction

    def test_default_behaviour_applies_when_the_script_is_empty(
        self, client: openai.OpenAI, teacher: FakeTeacher
    ) -> None:
        teacher.set_default("500")
        teacher.script("ok")

        chat(client)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                chat(client)

        assert [entry["behaviour"] for entry in teacher.ledger()] == ["ok", "500", "500"]
        assert teacher.requests == 3

    def test_unknown_behaviour_is_refused_up_front(self, teacher: FakeTeacher) -> None:
        with pytest.raises(ValueError, match="unknown behaviour"):
            teacher.script("teapot")
        with pytest.raises(ValueError, match="needs a duration"):
            teacher.set_default("slow")


class TestLanguage:
    def test_korean_examples_get_korean_records(self, client: openai.OpenAI) -> None:
        response = chat(client, prompt=KOREAN_PROMPT)

        content = response.choices[0].message.content
        instructions = instructions_in(content)
        assert len(instructions) == 18
        assert all(HANGUL.search(instruction) for instruction in instructions)
        assert response.usage is not None
        assert response.usage.prompt_tokens == count_tokens(KOREAN_PROMPT) > len(KOREAN_PROMPT.split())

    def test_english_examples_get_english_records(self, client: openai.OpenAI) -> None:
        content = chat(client).choices[0].message.content

        assert not HANGUL.search(content)


class TestInstructions:
    def test_two_thousand_instructions_are_distinct_and_pass_alpaca_filters(
        self, client: openai.OpenAI
    ) -> None:
        prompt = ENGLISH_PROMPT.replace("a list of 20", "a list of 202")
        instructions: list[str] = []
        inputs = 0
        while len(instructions) < 2000:
            content = chat(client, prompt=prompt, max_tokens=None).choices[0].message.content
            instructions += instructions_in(content)
            inputs += len(re.findall(r"\d+\. Input:\n(?!<noinput>)", content))

        assert len(set(instructions)) == len(instructions)
        assert 0.3 < inputs / len(instructions) < 0.5
        for instruction in instructions:
            assert 6 <= len(instruction.split()) <= 30, instruction
            assert instruction[0].isalpha(), instruction
            assert not any(word in instruction.lower() for word in BLACKLIST), instruction
        sample = instructions[::16]
        scores = [rouge_l(a, b) for index, a in enumerate(sample) for b in sample[:index]]
        assert max(scores) < 0.7
        assert sum(scores) / len(scores) < 0.25

    def test_vocabulary_avoids_words_alpaca_filters_out(self) -> None:
        book = fake_teacher.ENGLISH
        phrases = [phrase for table in (*book.tables.values(), *book.patterns.values()) for phrase in table]
        phrases += [pattern for pattern, _ in (*book.no_input_templates, *book.with_input_templates)]

        offending = [phrase for phrase in phrases if any(word in phrase.lower() for word in BLACKLIST)]

        assert offending == []

    def test_same_seed_serves_the_same_records(self) -> None:
        replies = []
        for _ in range(2):
            with (
                FakeTeacher(seed=3) as fake,
                openai.OpenAI(base_url=fake.base_url, api_key="any", max_retries=0) as api,
            ):
                replies.append(chat(api).choices[0].message.content)

        assert replies[0] == replies[1]


class TestConcurrency:
    def test_latency_overlaps_and_peak_concurrency_is_counted(self) -> None:
        with (
            FakeTeacher(latency=(0.3, 0.3)) as fake,
            openai.OpenAI(base_url=fake.base_url, api_key="any", max_retries=0) as api,
        ):
            threads = [threading.Thread(target=chat, args=(api,)) for _ in range(4)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started

            assert fake.max_concurrent == 4
            assert fake.requests == 4
            assert 0.3 <= elapsed < 1.0


class TestModels:
    def test_lists_the_configured_models(self) -> None:
        with (
            FakeTeacher(api_key=API_KEY, models=("teacher-a", "teacher-b")) as fake,
            openai.OpenAI(base_url=fake.base_url, api_key=API_KEY, max_retries=0) as api,
        ):
            assert [model.id for model in api.models.list()] == ["teacher-a", "teacher-b"]
            assert fake.requests == 0  # listing models is not a generation request

    def test_listing_models_needs_the_key(self, teacher: FakeTeacher) -> None:
        with (
            openai.OpenAI(base_url=teacher.base_url, api_key="sk-wrong", max_retries=0) as api,
            pytest.raises(openai.AuthenticationError),
        ):
            api.models.list()


class TestPromptReading:
    def test_finds_where_the_list_continues(self) -> None:
        view = read_prompt(ENGLISH_PROMPT)

        assert (view.next_number, view.to_write, view.korean, view.ends_at_instruction) == (
            3,
            18,
            False,
            True,
        )
        assert view.examples == (
            "Give three tips for staying focused while studying.",
            "Classify the sentiment of the review as positive or negative.",
        )

    def test_defaults_to_twenty_records_without_a_list_length(self) -> None:
        assert read_prompt("Write some tasks.").to_write == 20
        assert read_prompt("Make a list of 30 tasks.\n\n" + EXAMPLES).to_write == 28
        assert read_prompt(KOREAN_PROMPT).korean


class TestTokenCounting:
    def test_counts_pieces_and_non_ascii_characters(self) -> None:
        assert count_tokens("one two  three\n") == 3
        assert count_tokens("안녕 하세요") == 2 + 5

    @settings(max_examples=200, deadline=None)
    @given(text=st.text(alphabet=st.sampled_from("ab 가나\n\t\xa0é")), limit=st.integers(0, 30))
    def test_truncation_keeps_the_longest_prefix_within_the_limit(self, text: str, limit: int) -> None:
        cut = truncate_to_tokens(text, limit)

        assert text.startswith(cut)
        assert count_tokens(cut) <= limit
        assert cut == text or count_tokens(text[: len(cut) + 1]) > limit


class TestStandaloneProcess:
    def test_prints_its_url_and_serves_the_ledger_and_script(self) -> None:
        command = [
            sys.executable,
            "-m",
            "tests.fake_teacher",
            "--port",
            "0",
            "--api-key",
            API_KEY,
            "--seed",
            "5",
        ]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 15)
            assert ready, "the fake teacher printed no URL"
            line = process.stdout.readline().strip()
            match = re.fullmatch(r"FAKE_TEACHER_URL=(http://127\.0\.0\.1:\d+/v1)", line)
            assert match, line
            base_url = match.group(1)
            root = base_url.removesuffix("/v1")
            post_json(f"{root}/_script", {"behaviours": ["500"]})

            with openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as api:
                with pytest.raises(openai.InternalServerError):
                    chat(api)
                usage = chat(api).usage

            with urllib.request.urlopen(f"{root}/_ledger", timeout=5) as reply:
                ledger = json.load(reply)
            assert ledger["requests"] == 2
            assert [entry["status"] for entry in ledger["entries"]] == [500, 200]
            assert usage is not None
            assert ledger["billed_prompt_tokens"] == usage.prompt_tokens
            assert ledger["billed_completion_tokens"] == usage.completion_tokens
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0


def post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.load(reply)
