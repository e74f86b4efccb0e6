"""Judge prompts and verdicts: render the messages from the template files, parse the reply. Pure.

Pairwise prompts show two answers as assistants A and B and ask for ``[[A]]``, ``[[B]]`` or ``[[C]]`` (a
tie); single-answer prompts ask for ``Rating: [[N]]`` on a 1-10 scale. Either may carry a reference answer
(reference-guided grading). A reply without a readable decision is not an error: it comes back with the
reason, and the caller stores it raw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).parent / "templates" / "judge"
MIN_SCORE = 1.0
MAX_SCORE = 10.0


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text for a model, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **values: object) -> str:
    return _environment().get_template(template).render(**values).strip()


def _numbered(reference: Sequence[str] | None) -> list[tuple[int, str]]:
    """(turn number, reference answer) for the turns that have one."""
    return [(number, text) for number, text in enumerate(reference or [], start=1) if text.strip()]


def _padded(answer: Sequence[str], turns: Sequence[str]) -> list[str]:
    """One answer per turn; a missing turn shows as an empty reply rather than failing the render."""
    return [answer[index] if index < len(answer) else "" for index in range(len(turns))]


def pairwise_messages(
    turns: Sequence[str],
    answer_a: Sequence[str],
    answer_b: Sequence[str],
    reference: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    user = _render(
        "pairwise.j2",
        turns=list(turns),
        answer_a=_padded(answer_a, turns),
        answer_b=_padded(answer_b, turns),
        reference=_numbered(reference),
    )
    return [{"role": "system", "content": _render("system.j2")}, {"role": "user", "content": user}]


def single_messages(
    turns: Sequence[str], answer: Sequence[str], reference: Sequence[str] | None = None
) -> list[dict[str, str]]:
    user = _render(
        "single.j2", turns=list(turns), answer=_padded(answer, turns), reference=_numbered(reference)
    )
    return [{"role": "system", "content": _render("system.j2")}, {"role": "user", "content": user}]


# -- parsing ------------------------------------------------------------------------------------------------
_BRACKETED_VERDICT = re.compile(r"\[\[\s*(A|B|C|tie|draw)\s*\]\]", re.IGNORECASE)
_STATED_VERDICT = re.compile(
    r"(?:final\s+)?(?:verdict|decision)\s*(?:is)?\s*[:：]?\s*[*_\"']*\s*\[?\s*"
    r"(?:assistant\s+)?(A|B|C|tie)\b",
    re.IGNORECASE,
)
_NUMBER = r"(\d+(?:\.\d+)?)"
_BRACKETED_SCORE = re.compile(r"\[\[\s*" + _NUMBER + r"\s*(?:/\s*10\s*)?\]\]")
_STATED_SCORE = re.compile(
    r"(?:rating|score|grade)\s*[:：]?\s*[*_]*\s*\[?\s*" + _NUMBER + r"\s*(?:/\s*10)?", re.IGNORECASE
)
_OUT_OF_TEN = re.compile(_NUMBER + r"\s*/\s*10\b")


@dataclass(frozen=True, slots=True)
class PairwiseVerdict:
    verdict: str | None  # "A", "B" or "tie", as the answers were shown
    explanation: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class SingleGrade:
    score: float | None
    explanation: str
    problem: str | None = None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None  # the last one is the judge's final word


def _explanation(text: str, match: re.Match[str]) -> str:
    before = text[: match.start()].rstrip()
    before = re.sub(
        r"(?i)(final\s+)?(verdict|decision|rating|score|grade)\s*(is)?\s*[:：]?\s*[*_]*$", "", before
    )
    return (before.strip() or text.strip())[:20_000]


def parse_pairwise(text: str) -> PairwiseVerdict:
    """The judge's last stated verdict: ``[[A]]``, ``[[B]]``, ``[[C]]`` (tie), or ``Verdict: A`` and kin."""
    match = _last(_BRACKETED_VERDICT, text) or _last(_STATED_VERDICT, text)
    if match is None:
        return PairwiseVerdict(
            None, text.strip(), "no verdict: expected [[A]], [[B]] or [[C]] on the last line"
        )
    word = match.group(1).upper()
    verdict = word if word in ("A", "B") else "tie"
    return PairwiseVerdict(verdict, _explanation(text, match))


def parse_single(text: str) -> SingleGrade:
    """The judge's last stated grade: ``Rating: [[7]]``, ``[[7/10]]``, ``Rating: 7`` or ``7/10``."""
    match = _last(_BRACKETED_SCORE, text) or _last(_STATED_SCORE, text) or _last(_OUT_OF_TEN, text)
    if match is None:
        return SingleGrade(None, text.strip(), "no rating: expected 'Rating: [[N]]' with N from 1 to 10")
    score = float(match.group(1))
    if not MIN_SCORE <= score <= MAX_SCORE:
        return SingleGrade(None, text.strip(), f"rating {match.group(1)} is outside the scale of 1 to 10")
    return SingleGrade(score, _explanation(text, match))
