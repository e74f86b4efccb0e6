"""The leading verb of an instruction and its first object: the self-instruct paper's diversity chart.

The paper parsed instructions with a constituency parser and kept those whose root is a verb with a direct
noun object. No parser model can be downloaded here, so Pasture uses a documented heuristic for English that
gets the same answer on the common imperative shapes:

1. Lower-case, split into words (letters, digits, apostrophes and hyphens).
2. Skip politeness and sequencing words at the start ("please", "now", "kindly", ...), and a leading
   "can/could/would/will you" (so "Could you please list ..." leads with "list").
3. If the instruction opens with a framing phrase ("Given ..., ", "Based on ..., ", "Using ..., ",
   "For ..., ", "In ..., "), start again after its first comma.
4. The first word is the verb unless it is a question word, an auxiliary, a pronoun, a determiner or a
   preposition: such instructions are questions or statements, with no leading verb, and are counted apart.
5. The object is the first later word that is not a determiner, pronoun, number or common adjective
   ("a short story" -> "story", "me three tips" -> "tips"), stopping at a preposition or punctuation
   ("Write about ..." has a verb and no object). A particle right after the verb belongs to it ("find out",
   "come up with").

Other languages are not analysed (Korean puts the verb last; a heuristic there would mislead).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*|[^\sa-z0-9]")


def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(text.split())


LEADING_FILLER = _vocabulary("please kindly now then also next first finally so ok okay")
ASKING = _vocabulary("can could would will")
FRAMING = _vocabulary("given based using for in with after from if when as by")
NOT_VERBS = _vocabulary(
    """what how why who whom whose which when where whether is are was were be been am do does did can could
    would should will shall may might must have has had i you he she it we they me my your his her its our
    their this that these those there here the a an some any all each every no not one if in on at by for to
    of from with about as than and or but given based using after before during while yes"""
)
DETERMINERS = _vocabulary(
    """a an the this that these those some any each every another other my your his her its our their me us
    him them it you one two three four five six seven eight nine ten few several many more most all both
    either neither such what which"""
)
COMMON_ADJECTIVES = _vocabulary(
    """short brief new simple good creative detailed concise different single catchy unique appropriate
    possible main following given original random funny interesting suitable persuasive descriptive
    informative formal informal complete comprehensive clear quick basic famous popular common typical
    specific general best important key potential real realistic personal positive negative professional
    friendly polite proper correct long small large big great little fun engaging compelling memorable
    effective useful helpful healthy"""
)
PARTICLES = _vocabulary("up out down off over back")
STOPS = _vocabulary(
    """of to for about in on at with from between into that whether if how what why when where which who as
    by than and or but"""
)


@dataclass(frozen=True, slots=True)
class VerbObject:
    verb: str
    object: str | None


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _is_word(token: str) -> bool:
    return token[0].isalpha()


def leading_verb(instruction: str) -> VerbObject | None:
    """The leading verb and its first object, or None when the instruction does not open with a verb."""
    tokens = words(instruction)[:40]
    while tokens and tokens[0] in LEADING_FILLER:
        tokens = tokens[1:]
    if len(tokens) >= 2 and tokens[0] in ASKING and tokens[1] == "you":
        tokens = tokens[2:]
        while tokens and tokens[0] in LEADING_FILLER:
            tokens = tokens[1:]
    if tokens and tokens[0] in FRAMING and "," in tokens[:16]:
        tokens = tokens[tokens.index(",") + 1 :]
        while tokens and tokens[0] in LEADING_FILLER:
            tokens = tokens[1:]
    if not tokens or not _is_word(tokens[0]) or tokens[0] in NOT_VERBS or tokens[0].endswith("ly"):
        return None
    verb = tokens[0].strip("'-")
    rest = tokens[1:]
    if rest and rest[0] in PARTICLES:  # phrasal verbs: "find out", "come up with"
        verb = f"{verb} {rest[0]}"
        rest = rest[1:]
        if rest and rest[0] == "with":
            verb += " with"
            rest = rest[1:]
    obj: str | None = None
    for token in rest[:7]:
        if not _is_word(token):
            if token.isdigit():
                continue
            break
        if token in STOPS:
            break
        if token in DETERMINERS or token in COMMON_ADJECTIVES or token.isdigit():
            continue
        obj = token.strip("'-") or None
        break
    return VerbObject(verb, obj)


@dataclass(frozen=True, slots=True)
class VerbCount:
    verb: str
    count: int
    objects: list[tuple[str, int]]  # the top objects; the rest of the verb's count is "other"


@dataclass(frozen=True, slots=True)
class VerbChart:
    analysed: int  # English instructions looked at
    with_verb: int  # of those, the ones that open with a verb
    skipped: int  # instructions in other languages
    verbs: list[VerbCount]


def verb_chart(rows: Iterable[tuple[str, str]], *, top_verbs: int = 20, top_objects: int = 4) -> VerbChart:
    """Count (verb, object) pairs over ``(instruction, language)`` rows; the most common verbs first."""
    verbs: Counter[str] = Counter()
    objects: dict[str, Counter[str]] = {}
    analysed = skipped = with_verb = 0
    for instruction, language in rows:
        if not language.lower().startswith("en"):
            skipped += 1
            continue
        analysed += 1
        found = leading_verb(instruction)
        if found is None:
            continue
        with_verb += 1
        verbs[found.verb] += 1
        if found.object is not None:
            objects.setdefault(found.verb, Counter())[found.object] += 1
    chart = [
        VerbCount(verb, count, objects.get(verb, Counter()).most_common(top_objects))
        for verb, count in verbs.most_common(top_verbs)
    ]
    return VerbChart(analysed=analysed, with_verb=with_verb, skipped=skipped, verbs=chart)
