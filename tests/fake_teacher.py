"""A fake OpenAI-compatible teacher for Pasture's tests and benchmarks, served over real HTTP.

Pasture talks to its teacher through the ``openai`` client, so the honest seam for tests is the network: this
module serves ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models`` on 127.0.0.1 with
nothing but the standard library. It reads Pasture's continuation prompt (numbered ``N. Instruction:`` /
``N. Input:`` / ``N. Output:`` records separated by ``###``) and continues the list with fresh records from a
seeded generator, in Korean when the prompt's examples contain Hangul.

It also plays the other two parts of an evaluation. A judge prompt (Pasture's pairwise or single-answer
template: ``<conversation assistant="A">`` / ``<conversation assistant="B">``, or one ``<conversation>``)
gets a verdict by a configurable policy: ``judge`` for pairwise (``"first"``, ``"second"``, ``"longer"``,
``"tie"``, ``"garbage"`` or a callable) and ``grader`` for single grades (a fixed score, ``"length"``,
``"garbage"`` or a callable). Any other prompt without numbered records is a question for an assistant: it
gets a deterministic answer that depends on the model, the seed and the conversation, or what the ``answer``
callable returns.

Faults are queued per request with :meth:`FakeTeacher.script` or set for every request with
:meth:`FakeTeacher.set_default`. Every generation request lands in a ledger, and every 200 reply is billed
with the rule of :func:`count_tokens`, so tests can reconcile Pasture's own accounting with what the teacher
charged.

Run it as a process with ``python -m tests.fake_teacher --port 0``: it prints ``FAKE_TEACHER_URL=...`` once
listening, serves until SIGTERM or SIGINT, and also answers ``GET /_ledger`` and ``POST /_script``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

DEFAULT_MODEL = "fake-teacher"
DEFAULT_LIST_LENGTH = 20
NO_INPUT = "<noinput>"
CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"
MIN_INSTRUCTION_WORDS = 6
MAX_INSTRUCTION_WORDS = 30
WITH_INPUT_SHARE = 0.4
CHAT_PREAMBLE_SHARE = 0.5

# ------------------------------------------------------------------------------------------------------------
# Token counting: one rule for prompts, replies, max_tokens and billing, so tests can recompute every number.
# ------------------------------------------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """Whitespace-separated pieces plus one per non-ASCII character (so Korean costs more, as it does)."""
    return len(text.split()) + sum(1 for char in text if ord(char) > 127)


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose :func:`count_tokens` is at most ``limit``."""
    used = 0
    in_piece = False
    for index, char in enumerate(text):
        if char.isspace():
            cost = 0
            in_piece = False
        else:
            cost = 0 if in_piece else 1
            in_piece = True
        if ord(char) > 127:
            cost += 1
        if used + cost > limit:
            return text[:index]
        used += cost
    return text


# ------------------------------------------------------------------------------------------------------------
# Reading Pasture's prompt
# ------------------------------------------------------------------------------------------------------------

_INSTRUCTION_LINE = re.compile(r"^[ \t]*(\d+)\.[ \t]*Instruction:[ \t]*(.*)$", re.MULTILINE)
_LIST_LENGTH = re.compile(r"list of[^\d\n]{0,20}?(\d+)", re.IGNORECASE)
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


@dataclass(frozen=True)
class PromptView:
    """What the fake needs from a prompt: where the list continues, how far, and in which language."""

    next_number: int
    to_write: int
    examples: tuple[str, ...]
    korean: bool
    ends_at_instruction: bool  # the prompt ends with an empty "N. Instruction:" for the model to fill in


def read_prompt(prompt: str) -> PromptView:
    lines = list(_INSTRUCTION_LINE.finditer(prompt))
    examples = tuple(text for line in lines if (text := line.group(2).strip()))
    length_match = _LIST_LENGTH.search(prompt)
    total = int(length_match.group(1)) if length_match else DEFAULT_LIST_LENGTH
    ends_at_instruction = False
    next_number = 1
    if lines:
        last = lines[-1]
        ends_at_instruction = not last.group(2).strip() and not prompt[last.end() :].strip()
        next_number = int(last.group(1)) if ends_at_instruction else int(last.group(1)) + 1
    example_text = prompt[lines[0].start() :] if lines else prompt
    return PromptView(
        next_number=next_number,
        to_write=max(1, total - next_number + 1),
        examples=examples,
        korean=bool(_HANGUL.search(example_text)),
        ends_at_instruction=ends_at_instruction,
    )


# ------------------------------------------------------------------------------------------------------------
# Phrasebooks: the vocabulary and sentence patterns of one language
# ------------------------------------------------------------------------------------------------------------
# Patterns name slots in braces. ``{topic}`` draws from the ``topic`` table, ``{topic2}`` draws a different
# entry of the same table, and composite slots (``{tips}``, ``{claim}`` ...) are built by the functions in
# _COMPOSITES. ``[a|b|c]`` picks one option, so templates vary their wording as well as their content. A slot
# may carry one modifier: ``{topic:cap}``, ``{topic:title}``, or a Korean particle such as ``{topic:을}``,
# which picks 을/를 from the word's final consonant.
#
# Instructions get long, varied content (a setting and a constraint besides topic and audience) and short
# fixed wording, so that even over 60,000 records few pairs reach a ROUGE-L F of 0.7.


@dataclass(frozen=True)
class Phrasebook:
    language: str
    tables: Mapping[str, tuple[str, ...]]
    numbers: tuple[tuple[str, int], ...]
    no_input_templates: tuple[tuple[str, str], ...]  # (instruction pattern, kind)
    with_input_templates: tuple[tuple[str, str], ...]
    inputs: Mapping[str, tuple[str, ...]]  # kind -> input patterns
    outputs: Mapping[str, tuple[str, ...]]  # kind -> output patterns
    patterns: Mapping[str, tuple[str, ...]]  # building blocks of composite slots
    labels: Mapping[str, str]
    categories: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...]], ...]
    refusals: tuple[str, ...]
    preambles: tuple[str, ...]
    garbage: tuple[str, ...]
    near_duplicate_prefixes: tuple[str, ...]
    near_duplicate_suffixes: tuple[str, ...]
    composed_audience_share: float = 0.6
    item_separator: str = ", "


_ENGLISH_TOPICS = (
    # home and garden
    "composting kitchen scraps", "balcony vegetable gardens", "indoor houseplant care",
    "rainwater harvesting", "raised garden beds", "home energy audits", "decluttering small closets",
    "fixing a leaky faucet", "insulating drafty windows", "growing herbs on a windowsill",
    "pest control without chemicals", "choosing a first toolbox", "repainting a bedroom",
    "organizing a garage workshop", "caring for succulents", "pruning fruit trees",
    "keeping backyard chickens", "urban beekeeping", "soundproofing a home office",
    "reducing household plastic",
    # cooking
    "sourdough baking", "batch cooking for the week", "fermenting vegetables", "knife sharpening",
    "making fresh pasta", "plant-based protein sources", "reducing food waste", "blending spices at home",
    "cast iron skillet care", "pressure cooking beans", "baking gluten-free bread",
    "packing healthy school lunches", "brewing pour-over coffee", "making stock from leftovers",
    "meal planning on a budget", "pickling cucumbers", "grilling fish safely", "homemade yogurt",
    "cooking rice perfectly", "seasonal fruit desserts",
    # personal finance
    "emergency savings funds", "index fund investing", "paying off credit card debt",
    "building a monthly budget", "retirement account contributions", "comparing mortgage offers",
    "doing taxes as a freelancer", "negotiating a salary", "tracking daily expenses",
    "avoiding impulse purchases", "renting versus buying a home", "buying a used car",
    "choosing health insurance", "splitting bills with roommates", "saving for a child's education",
    "compound interest", "side income from tutoring", "managing student loans", "planning a wedding budget",
    "building a credit score",
    # health and fitness
    "strength training for beginners", "improving sleep quality", "stretching after long desk work",
    "staying hydrated during exercise", "marathon training", "managing workplace stress",
    "mindful breathing exercises", "reducing screen time", "healthy snacking habits",
    "preventing running injuries", "yoga for lower back pain", "cycling to work", "home cardio workouts",
    "recovering after knee surgery", "posture at a standing desk", "cutting back on sugar",
    "swimming technique", "hiking with a heavy pack", "managing seasonal allergies",
    "journaling for mental health",
    # work and career
    "preparing for a job interview", "writing a strong resume", "switching careers at forty",
    "running effective meetings", "giving constructive feedback", "remote team communication",
    "asking for a promotion", "networking at conferences", "mentoring junior colleagues",
    "time blocking a busy week", "handling a difficult manager", "negotiating freelance contracts",
    "public speaking anxiety", "onboarding new employees", "writing clear status updates",
    "setting quarterly goals", "leading a volunteer team", "delegating tasks well", "preventing burnout",
    "documenting team decisions",
    # learning
    "learning a second language", "spaced repetition study", "taking better lecture notes",
    "teaching fractions to children", "preparing for a history exam", "speed reading techniques",
    "homeschooling schedules", "study groups that work", "memorizing vocabulary",
    "writing a research proposal", "citing sources correctly", "teaching kids to swim",
    "learning chess openings", "improving handwriting", "reading more nonfiction",
    "learning basic sign language", "finishing online courses", "practicing mental arithmetic",
    "classroom behavior strategies", "teaching critical thinking",
    # science
    "photosynthesis", "plate tectonics", "the water cycle", "black holes", "vaccine development",
    "antibiotic resistance", "ocean acidification", "the greenhouse effect", "nuclear fusion research",
    "migratory birds", "coral reef ecosystems", "volcanic eruptions", "the human immune system",
    "gene editing", "the periodic table", "renewable energy storage", "the life cycle of stars",
    "soil erosion", "tidal energy", "insect pollination",
    # technology
    "password managers", "two-factor authentication", "backing up a laptop", "spotting phishing emails",
    "smart home privacy", "cloud storage costs", "choosing a budget smartphone", "electric vehicle charging",
    "open source licenses", "database indexing", "unit testing", "version control for teams",
    "accessible website design", "machine translation quality", "recycling old electronics",
    "home network security", "spreadsheet formulas", "keyboard shortcuts", "digital note taking",
    "online privacy settings",
    # environment
    "shrinking a household carbon footprint", "community recycling drives", "protecting local wetlands",
    "urban tree planting", "sustainable fashion", "electric bus fleets", "wildlife corridors",
    "water conservation at home", "plastic-free grocery shopping", "solar panels for apartments",
    "reducing light pollution", "restoring native grasslands", "sustainable fishing", "bike-friendly streets",
    "food miles", "composting in cities", "air quality monitoring", "protecting pollinators", "green roofs",
    "repairing instead of replacing",
    # history and culture
    "the printing press", "the Silk Road", "Roman aqueducts", "the invention of the telephone",
    "medieval castles", "the history of tea", "the Apollo moon landings", "the Industrial Revolution",
    "the spread of paper money", "early aviation pioneers", "the ancient Olympic Games",
    "Egyptian hieroglyphs", "the history of vaccines", "the building of canals",
    "the invention of the bicycle", "folk tales from many cultures", "the history of public libraries",
    "lighthouse keepers", "the first transatlantic cable", "traditional boat building",
    # crafts and pastimes
    "watercolor painting", "pottery for beginners", "knitting a first scarf", "writing short fiction",
    "learning brush lettering", "bird watching", "amateur astronomy", "woodworking safety",
    "darkroom film developing", "community theater", "origami", "poetry writing", "model railway building",
    "writing stand-up comedy", "collecting stamps", "designing crossword puzzles", "candle making",
    "quilting", "bookbinding", "improv games",
    # travel
    "packing light for a long trip", "traveling with toddlers", "solo hiking trips", "budget train travel",
    "avoiding jet lag", "camping in the rain", "visiting national parks", "local etiquette abroad",
    "road trip planning", "staying safe in crowded cities", "travel insurance", "eco-friendly tourism",
    "ferry travel", "house sitting", "backpacking through mountains", "staying productive on business trips",
    "cycling tours", "choosing a hostel", "travel journaling", "exploring your own city",
    # family and pets
    "bedtime routines for toddlers", "teaching kids about money", "sibling rivalry",
    "screen time rules for teenagers", "family game nights", "raising a puppy", "adopting a rescue cat",
    "caring for an aging parent", "planning a family reunion", "chores for young children",
    "talking to kids about climate change", "leash training a dog", "keeping an aquarium",
    "first-time babysitting", "helping teens with homework", "pet first aid", "grandparents and smartphones",
    "moving house with kids", "family dinner traditions", "choosing a daycare",
    # community and small business
    "organizing a neighborhood cleanup", "running a school fundraiser", "starting a community garden",
    "volunteering at a food bank", "voting in local elections", "writing to a city council",
    "opening a small cafe", "pricing handmade goods", "customer loyalty rewards",
    "running a farmers market stall", "managing shop inventory", "social media for small shops",
    "writing a business plan", "hiring a first employee", "handling negative reviews",
    "shipping products abroad", "starting a podcast", "crowdfunding a community project",
    "running a book club", "public transit advocacy",
    # people and habits
    "building new habits", "overcoming procrastination", "active listening",
    "resolving conflicts with friends", "making friends as an adult", "coping with loneliness",
    "gratitude practices", "setting personal boundaries", "decision fatigue", "a growth mindset",
    "dealing with rejection", "staying motivated on long projects", "surviving parties as an introvert",
    "apologizing sincerely", "handling criticism", "saying no politely", "digital detox weekends",
    "managing expectations", "self-compassion", "small talk with strangers",
)  # fmt: skip

_ENGLISH_AUDIENCES = (
    "first-year nursing students", "retired schoolteachers", "a small bakery owner", "busy parents of twins",
    "high school juniors", "new software engineers", "a nervous first-time voter", "night shift workers",
    "rural farmers", "college athletes", "a visiting exchange student", "warehouse supervisors",
    "stay-at-home dads", "recent immigrants", "hospital volunteers", "amateur cyclists",
    "a ten-year-old child", "middle school science teachers", "freelance translators", "city bus drivers",
    "apartment renters", "a retired sailor", "new homeowners", "graduate researchers", "library staff",
    "hotel receptionists", "delivery couriers", "fitness coaches", "museum guides", "first-time managers",
    "flight attendants", "city planners", "wildlife rangers", "dental hygienists", "community organizers",
    "a shy teenager", "elderly neighbors", "kindergarten teachers", "restaurant cooks",
    "long-haul truck drivers", "startup founders", "pharmacy technicians", "construction apprentices",
    "part-time students", "veterinary assistants", "newly engaged couples",
    "grandparents raising grandchildren", "lifeguards", "call center agents", "bookshop owners",
    "a skeptical journalist", "young entrepreneurs", "high school debate teams", "a curious eight-year-old",
    "volunteer firefighters", "social workers", "yoga instructors", "university admissions officers",
    "retail cashiers", "garden center staff", "a busy surgeon", "overwhelmed new parents", "online tutors",
    "tenants' association members", "retirees on a fixed income", "ballet students",
    "electricians in training", "small farm owners", "remote workers in small towns",
    "a recently retired accountant", "first-time pet owners", "people recovering from an injury",
    "adult learners", "scout leaders", "coffee shop baristas", "airport ground crews", "school librarians",
    "podcast hosts", "medical interns", "wedding planners", "taxi drivers", "beginner chess players",
    "volunteer tutors", "hardware store clerks", "sports referees", "a homesick college freshman",
    "teenage babysitters", "commuters with long train rides", "nonprofit fundraisers", "zookeepers",
    "a grandmother learning to text", "junior data analysts", "public health nurses", "chess club members",
    "apartment building managers", "postal workers", "sixth graders", "laboratory technicians",
    "sign language interpreters", "mountain guides", "newly hired paralegals",
)  # fmt: skip

_ENGLISH_AUDIENCE_DESCRIPTORS = (
    "newly hired", "recently retired", "part-time", "busy", "curious", "first-time", "experienced", "young",
    "rural", "bilingual", "volunteer", "overworked", "self-taught", "nervous", "ambitious", "semi-retired",
    "night-shift", "small-town", "budget-conscious", "recently relocated", "trainee", "skeptical", "veteran",
    "freelance", "weekend", "newly certified", "soft-spoken", "underpaid", "cautious", "enthusiastic",
)  # fmt: skip

_ENGLISH_AUDIENCE_ROLES = (
    "nurses", "bus drivers", "librarians", "bakery owners", "software engineers", "farmers",
    "college students", "science teachers", "cyclists", "translators", "parents", "shop owners", "cooks",
    "receptionists", "couriers", "fitness coaches", "museum guides", "managers", "flight attendants",
    "city planners", "park rangers", "dental hygienists", "community organizers", "kindergarten teachers",
    "truck drivers", "startup founders", "pharmacists", "carpenters", "veterinary assistants", "lifeguards",
    "call center agents", "bookshop owners", "runners", "journalists", "entrepreneurs", "firefighters",
    "social workers", "yoga instructors", "cashiers", "gardeners", "tutors", "tour guides", "tenants",
    "dancers", "electricians", "homeowners", "renters", "researchers", "athletes", "baristas", "plumbers",
    "accountants", "paramedics", "hairdressers", "pilots", "mechanics", "painters", "bakers", "chefs",
    "designers", "engineers", "lawyers", "architects", "potters", "beekeepers", "fishermen", "florists",
    "tailors", "bank tellers", "caregivers", "coaches", "coordinators", "editors", "interns", "janitors",
    "lab assistants", "midwives", "opticians", "security guards", "surveyors", "teaching assistants",
    "welders", "writers", "zookeepers", "event planners", "real estate agents", "sales clerks",
    "school counselors", "waiters",
)  # fmt: skip

_ENGLISH_ASPECTS = (
    "hidden costs", "main benefits", "common mistakes", "safety risks", "long-term effects", "key tradeoffs",
    "ethical questions", "practical first steps", "warning signs", "historical origins",
    "biggest misconceptions", "environmental impacts", "social benefits", "legal considerations",
    "essential terms", "surprising facts", "best practices", "typical costs", "early milestones",
    "underrated advantages", "main challenges", "cultural influences", "health effects", "most useful habits",
    "core principles", "economic effects", "daily routines", "beginner pitfalls", "measurable outcomes",
    "unspoken rules", "practical limits", "most common questions", "future trends", "lessons learned",
    "regional differences", "emotional benefits", "time commitments", "equipment needs", "success stories",
    "hidden dangers", "scientific basics", "moral dilemmas", "budget considerations",
    "accessibility concerns", "privacy risks", "seasonal patterns", "community benefits", "weak points",
    "turning points", "quick wins", "long-term rewards", "key figures", "guiding values", "typical schedules",
    "maintenance needs", "ground rules", "success factors", "red flags", "opportunity costs",
    "basic safety rules", "mental health effects", "practical uses", "root causes", "main stages",
    "debate points", "cost savings", "learning hurdles", "skill requirements", "social pressures",
    "everyday examples", "mistaken assumptions", "overlooked details", "energy requirements",
    "family impacts", "career benefits", "local regulations", "hidden benefits", "historical lessons",
    "typical timelines", "unexpected side effects", "key decisions", "common excuses", "first principles",
    "open questions", "quality signals", "trust issues", "physical demands", "personal benefits",
    "common shortcuts", "long-term costs", "hard lessons", "unwritten expectations", "ripple effects",
    "entry barriers",
)  # fmt: skip

_ENGLISH_WHEN = (
    "on a tight budget", "during a heat wave", "before a job interview", "after a long night shift",
    "while traveling abroad", "during a power outage", "in the first week of school",
    "with only ten minutes a day", "during the winter holidays", "while recovering from a cold",
    "before moving to a new city", "during a rainy weekend", "with no prior experience",
    "on a long train ride", "during exam season", "with two young children at home", "after retirement",
    "while working full time", "during a busy harvest season", "with limited internet access",
    "during the summer break", "after a career break", "during a local festival",
    "while caring for a newborn", "before a big deadline", "on the first day of a new job",
    "at the start of spring", "with borrowed tools", "during a month without shopping",
    "after a stressful week", "during a snowstorm", "on a weekday evening", "while living with roommates",
    "during a long layover", "before the end of the year", "on a rainy Sunday afternoon",
    "while studying from home", "before their first race", "during a week-long staycation",
    "while on a strict diet", "with a broken wrist", "during a volunteer trip", "after a major move",
    "during a family visit", "during a quiet morning routine", "with a team spread across time zones",
    "when money is tight", "after losing a job", "during a long airport delay",
    "in their first year of college", "while commuting by bike", "during a long hospital stay",
    "before an important exam", "during the rainy season", "while renovating a kitchen",
    "with only basic supplies", "after a long flight", "during a hectic holiday season",
    "while sharing one car", "in the middle of a busy semester", "during a hiring freeze", "after a flood",
    "during Ramadan", "before a family wedding", "with a newborn puppy", "during a teachers' strike",
    "during a long recovery", "in late autumn", "over a long weekend", "during a school science fair",
    "after a sleepless night", "in the weeks before a move",
)  # fmt: skip

_ENGLISH_WHERE = (
    "in a small apartment", "in a rural town", "in a noisy shared office", "in a crowded city",
    "on a camping trip", "in a coastal village", "at a community center", "in a multilingual household",
    "in a high-altitude town", "in a drafty old house", "in a shared kitchen", "in a tiny studio apartment",
    "in a busy hospital ward", "at a neighborhood block party", "in a country with a colder climate",
    "at a small public library", "in a mountain cabin", "at a weekend market", "in a cramped dorm room",
    "in an open-plan classroom", "at a summer camp", "on a family farm", "in a busy restaurant kitchen",
    "in a retirement community", "at a rural health clinic", "on a small island", "near a busy highway",
    "in a desert climate", "in a sublet room", "in a village without a supermarket", "on a sailing trip",
    "at a busy train station", "in a basement workshop", "at a roadside diner", "in a quiet suburb",
    "at a ski resort", "in a fishing town", "in a converted garage", "at a youth hostel",
    "in a high-rise flat", "at a food truck", "in a university town", "at a seaside campsite",
    "in a shared studio", "at a refugee welcome center", "in a small bookshop", "at a county fair",
    "in a border town", "in a riverside cottage", "on a houseboat", "in a tiny office above a shop",
    "in a converted barn", "at a corner bakery", "at a bus depot", "on a night bus",
)  # fmt: skip

_ENGLISH_FORMATS = (
    "in fewer than 80 words", "as five short bullet points", "in exactly three sentences",
    "in the style of a newspaper headline", "as a friendly text message", "in under 120 words",
    "as a short exchange between two friends", "in one short passage", "for a five-minute talk",
    "using at most two sentences", "with a short summary at the end", "as a numbered checklist",
    "with no more than seven items", "in a question-and-answer format", "keeping it under fifty words",
    "as a short story with a lesson", "in the form of a letter", "as a list of dos and don'ts",
    "in four sentences or fewer", "with a short sample conversation", "as a short motivational note",
    "starting each point with a verb", "in a structured outline", "for a quick newsletter column",
    "in clear numbered steps", "as a rhyming couplet", "ranked from easiest to hardest",
    "with rough costs for each step", "as a two-column table", "in a single sentence",
    "as three short sections", "in under 200 words", "as a memo", "as a postcard-length note",
    "as a short speech", "with headings for each part", "as a weekly timeline", "as a set of flashcards",
    "ending with a one-line summary", "as a short interview", "with a title and three points",
    "as a script for a short call", "in exactly five steps", "as an annotated list",
)  # fmt: skip

_ENGLISH_STYLES = (
    "in plain language", "without using jargon", "in a warm, encouraging tone", "with one concrete example",
    "from the perspective of a skeptic", "using a simple analogy", "without mentioning brand names",
    "with a touch of humor", "in a formal tone", "ending with a practical question",
    "using everyday comparisons", "with a clear call to action", "in the second person",
    "in a calm, reassuring voice", "using vivid sensory details", "with both pros and cons",
    "so that a child could follow", "citing one common misconception", "in a persuasive style",
    "from an expert's point of view", "using only short words", "with a memorable opening line",
    "in an upbeat tone", "while staying strictly neutral", "with a realistic timeline",
    "with one surprising statistic", "in the tone of a patient coach", "without any exclamation marks",
    "with practical next steps", "using a sports comparison", "in the voice of a tour guide",
    "highlighting one safety warning", "using a cooking comparison", "with a gentle sense of urgency",
    "in a concise, direct style", "making the key idea memorable", "in a professional but friendly tone",
    "with a brief historical note", "while avoiding technical terms", "with a closing word of encouragement",
    "in a dry, witty voice", "with a nod to local traditions", "in a neighborly tone",
    "with respect for tight budgets", "in the voice of a grandparent",
)  # fmt: skip

_ENGLISH_FORMS = (
    "a short persuasive passage", "a friendly email", "a two-sentence summary", "a practical checklist",
    "a haiku", "a limerick", "a product description", "a short social media post", "a cover letter opening",
    "a brief dialogue", "a quiz question with its answer", "an FAQ entry",
    "an opening for a motivational speech", "the opening scene of a short story", "a riddle",
    "a newsletter blurb", "a polite complaint letter", "a thank-you note", "a one-minute radio announcement",
    "a slogan", "a short poem", "a diary entry", "a news headline with a lede", "a job posting",
    "a brief product review", "an elevator pitch", "a short life story", "a welcome message",
    "a public service announcement", "a letter to the editor", "a toast for a celebration",
    "a fable with a moral", "a short debate opening", "a recipe introduction", "a tweet-length tip",
    "a brochure blurb", "a mission statement", "a packing list", "a warm invitation",
    "a book club discussion prompt", "a workshop description", "a postcard message", "an apology email",
    "a reminder notice", "a short interview script", "a campaign slogan", "a tour guide introduction",
    "a lesson objective", "a short speech for a retirement party", "a personal mission statement",
)  # fmt: skip

_ENGLISH_ACTIONS = (
    "set aside a fixed time each week", "write down one clear goal",
    "ask someone experienced for honest feedback", "start with the simplest option that works",
    "keep a short log of what you try", "read one reliable beginner guide",
    "compare at least three options before committing", "break the work into small steps",
    "check the local rules before you begin", "practice for fifteen minutes a day",
    "review what went wrong after each attempt", "share your plan with a friend who will check in",
    "budget for unexpected costs", "test the idea on a small scale first", "celebrate small milestones",
    "prepare everything you need the night before", "change one habit at a time",
    "track results for two weeks before judging", "learn the basic terms first", "set a realistic deadline",
    "ask questions early instead of guessing", "look for a local group to learn with",
    "keep notes in one place", "rest properly between sessions", "focus on consistency rather than intensity",
    "borrow equipment before buying it", "write a short checklist and reuse it",
    "talk to people who have tried it before", "plan for bad weather or delays",
    "measure progress with one simple number", "remove one obvious distraction",
    "agree on clear roles with everyone involved", "keep the first attempt small and cheap",
    "note what worked and repeat it", "schedule a weekly review",
    "pair the new habit with an existing routine", "ask for a demonstration",
    "stay patient during the first month", "choose quality over quantity", "keep a small emergency reserve",
    "read the instructions twice", "start early in the day when energy is high",
    "set a reminder on your phone", "reward yourself after each milestone",
    "avoid comparing yourself with experts", "double-check the safety equipment",
    "explain the idea to someone else", "drop steps that add no value", "plan the next step before you stop",
    "keep expectations realistic",
)  # fmt: skip

_ENGLISH_REASONS = (
    "small changes add up over time", "it prevents costly mistakes later",
    "it builds confidence step by step", "people learn faster with quick feedback",
    "it keeps the effort sustainable", "it saves money in the long run",
    "it reduces stress when plans change", "it makes progress visible", "it protects health and safety",
    "it respects everyone's time", "it turns a vague goal into a concrete plan",
    "most problems show up in the first attempt", "it keeps motivation steady",
    "it helps others understand the goal", "habits stick when they are easy to start",
    "it leaves room for the unexpected", "clear priorities make hard choices easier",
    "good preparation shortens the learning curve", "it shows quickly what is not working",
    "it keeps costs predictable",
)  # fmt: skip

_ENGLISH_WORRIES = (
    "there will not be enough time", "the costs will keep growing", "they are doing it the wrong way",
    "the family will lose interest", "it is too late to start", "they will get hurt", "nobody will help",
    "the results will not last", "the rules are too confusing", "they will look foolish in front of others",
)  # fmt: skip

_ENGLISH_NAMES = (
    "Mina", "Carlos", "Priya", "Tom", "Aisha", "Jun", "Sofia", "Liam", "Noor", "Ethan", "Hana", "Mateo",
    "Grace", "Omar", "Lena", "Kofi",
)  # fmt: skip

_ENGLISH_ANALOGIES = (
    "tending a garden", "learning to ride a bicycle", "building a house brick by brick",
    "cooking a slow stew", "training for a long race", "saving coins in a jar", "tuning an old radio",
    "packing a suitcase", "planning a long road trip", "keeping a fire going",
)  # fmt: skip

_ENGLISH_PROBLEMS = (
    "the session was cancelled twice without notice", "nobody answered my emails",
    "the materials arrived two weeks late", "I was charged twice", "the room was far too small for the group",
    "the instructor left halfway through",
)  # fmt: skip

_ENGLISH_FIXES = (
    "refund the extra charge", "reschedule the missed session at no cost",
    "send the materials by express post", "offer you a free place in the next course",
    "assign a second instructor to the group",
)  # fmt: skip

_ENGLISH_CHORES = (
    "team meeting until 6 pm", "gym class at 7 pm", "grocery shopping", "late shift",
    "family dinner", "overtime at work", "language class", "laundry and cleaning", "visit to a friend",
)  # fmt: skip

ENGLISH = Phrasebook(
    language="en",
    tables={
        "topic": _ENGLISH_TOPICS,
        "audience": _ENGLISH_AUDIENCES,
        "descriptor": _ENGLISH_AUDIENCE_DESCRIPTORS,
        "role": _ENGLISH_AUDIENCE_ROLES,
        "aspect": _ENGLISH_ASPECTS,
        "when": _ENGLISH_WHEN,
        "where": _ENGLISH_WHERE,
        "format": _ENGLISH_FORMATS,
        "style": _ENGLISH_STYLES,
        "form": _ENGLISH_FORMS,
        "action": _ENGLISH_ACTIONS,
        "reason": _ENGLISH_REASONS,
        "worry": _ENGLISH_WORRIES,
        "name": _ENGLISH_NAMES,
        "analogy": _ENGLISH_ANALOGIES,
        "problem": _ENGLISH_PROBLEMS,
        "fix": _ENGLISH_FIXES,
        "chore": _ENGLISH_CHORES,
        "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    },
    numbers=(("three", 3), ("four", 4), ("five", 5), ("six", 6), ("seven", 7)),
    no_input_templates=(
        (
            "[Explain|Describe|Lay out|Walk through] the {aspect} of {topic} [to|for] {audience} "
            "{constraint}.",
            "prose",
        ),
        ("[Write|Compose|Draft|Put together] {form} about {topic} for {audience} {setting}.", "prose"),
        (
            "List {num} {aspect} of {topic} that {audience} should [weigh|consider|keep in mind|think about] "
            "{setting}.",
            "list",
        ),
        (
            "Give {audience} {num} [practical|useful|simple|realistic|concrete] "
            "[tips|suggestions|pointers|ideas] "
            "for {topic} {setting}.",
            "list",
        ),
        (
            "[Describe|Explain|Outline|Sketch out] how {audience} [could|might|can] [get started "
            "with|begin|try|"
            "take up] {topic} {setting}, {constraint}.",
            "prose",
        ),
        ("Compare {topic} [with|and|against] {topic2} for {audience}, {constraint}.", "compare"),
        (
            "[Suggest|Write|Come up with|Think of] {num} questions {audience} [might|would|could] ask about "
            "the "
            "{aspect} of {topic} {setting}.",
            "questions",
        ),
        (
            "[Create|Write|Produce|Prepare] {form} that [introduces|presents|explains] {topic} to {audience} "
            "{constraint}.",
            "prose",
        ),
        ("What are the {aspect} of {topic} for {audience} {setting}?", "list"),
        (
            "[Argue|Make the case] for or against [making|treating] {topic} [as|] a priority for {audience} "
            "{setting}, {constraint}.",
            "prose",
        ),
        (
            "Draft a [step-by-step|week-by-week|simple|practical] plan for {audience} to learn {topic} "
            "{setting}, "
            "{constraint}.",
            "list",
        ),
        ("[Summarize|Sum up|Recap|Condense] the {aspect} of {topic} for {audience} {constraint}.", "prose"),
        (
            "[Propose|Suggest|Plan|Design] a weekend project [about|around|involving] {topic} for {audience} "
            "{setting}.",
            "prose",
        ),
        (
            "[Identify|Name|Debunk|Point out] {num} myths about {topic} [and correct them|and set the record "
            "straight|] for {audience} {constraint}.",
            "list",
        ),
        (
            "How should {audience} [approach|handle|tackle|think about] {topic} {setting}? "
            "[Answer|Reply|Respond] "
            "{constraint}.",
            "prose",
        ),
        (
            "[Brainstorm|Suggest|Invent|Come up with] {num} names for a [club|group|meetup|society] [devoted "
            "to|"
            "about|for fans of] {topic} that would appeal to {audience} {setting}.",
            "names",
        ),
        (
            "[Write|Draft|Compose] {form} [from the point of view of|in the voice of|as if written by] "
            "{audience} "
            "[discovering|trying|learning about|struggling with] {topic} {setting}.",
            "prose",
        ),
        (
            "Outline a [short|one-hour|beginner|hands-on] lesson on the {aspect} of {topic} for {audience} "
            "{constraint}.",
            "list",
        ),
        (
            "[Recommend|Suggest|Design|Propose] a daily routine that helps {audience} [keep up with|stay on "
            "track "
            "with|make time for] {topic} {setting}.",
            "list",
        ),
        (
            "[Predict|Imagine|Speculate about|Forecast] how {topic} might change for {audience} {setting} "
            "[over "
            "the next decade|in the next ten years|within twenty years|in the coming years], {constraint}.",
            "prose",
        ),
        (
            "[Create|Write|Prepare|Design] a quiz of {num} questions on the {aspect} of {topic} for "
            "{audience} "
            "{setting}.",
            "quiz",
        ),
        (
            "Design a [low-cost|simple|safe|quick] experiment [about|on|exploring] {topic} that {audience} "
            "could "
            "run {setting}.",
            "list",
        ),
        (
            "Describe a typical [day|week|morning|evening] for {audience} with a "
            "[strong|growing|new|lifelong] "
            "interest in {topic} {setting}, {constraint}.",
            "prose",
        ),
        (
            "[Explain|Describe|Show] why {topic} [matters|is important|makes a difference] [to|for] "
            "{audience} "
            "{setting}, {constraint}.",
            "prose",
        ),
        (
            "[Offer|Give|Present|Provide] a balanced view of the {aspect} of {topic} for {audience} "
            "{constraint}.",
            "prose",
        ),
        (
            "Write a [persuasive|short|friendly|convincing] pitch that [convinces|encourages|persuades] "
            "{audience} "
            "to try {topic} {setting}.",
            "prose",
        ),
        (
            "[Pose|Ask|Raise] one [thought-provoking|tricky|surprising|simple] question about {topic} for "
            "{audience} {setting} and answer it {constraint}.",
            "prose",
        ),
        (
            "[Give|Offer|Come up with] an analogy that [explains|captures|illustrates] {topic} [to|for] "
            "{audience} "
            "{setting}, then [say|explain|note] where it [falls short|breaks down|stops working].",
            "analogy",
        ),
        (
            "Estimate how long {audience} would need to get [comfortable|confident|competent] with {topic} "
            "{setting}, {constraint}.",
            "estimate",
        ),
        ("Share {num} lessons {audience} can learn from the {aspect} of {topic} {setting}.", "list"),
        (
            "Recommend {num} [realistic|achievable|modest|ambitious] goals for {audience} exploring {topic} "
            "{setting}.",
            "list",
        ),
        (
            "Tell {audience} what to avoid when [dealing with|starting|planning|learning] {topic} {setting}, "
            "{constraint}.",
            "list",
        ),
        ("Describe the {aspect} of {topic} as if briefing {audience} {setting}.", "prose"),
        (
            "[Write|Give|Deliver|Draft] a [short|quick|two-minute|heartfelt] pep talk for {audience} feeling "
            "[stuck|discouraged|overwhelmed|bored] with {topic} {setting}, {constraint}.",
            "prose",
        ),
        ("Plan a [one-hour|half-day|two-hour|short] workshop on {topic} for {audience} {setting}.", "list"),
        (
            "[Contrast|Compare] [a beginner's and an expert's|a novice's and a veteran's|an amateur's and a "
            "professional's] approach to {topic} for {audience} {setting}, {constraint}.",
            "prose",
        ),
        (
            "[Draft|Write|Compose] {form} inviting {audience} to a free session about {topic} {setting}.",
            "prose",
        ),
        (
            "[Propose|Suggest|List] {num} ways a [town|city|school|library|company] could support {audience} "
            "interested in {topic} {setting}.",
            "list",
        ),
        (
            "Advise {audience} on [teaching|explaining|introducing] {topic} to a friend {setting}, "
            "{constraint}.",
            "prose",
        ),
        (
            "[Name|List|Describe] {num} [signs|clues|signals] that {topic} is not going well for {audience} "
            "{setting}, with a [fix|remedy|solution] for each.",
            "list",
        ),
        (
            "Create a [one-week|seven-day|two-week|ten-day] challenge around {topic} for {audience} "
            "{setting}.",
            "list",
        ),
        (
            "[Write|Put together|Draft|Create] a [short|simple|friendly|five-question] FAQ "
            "[about|on|covering] the "
            "{aspect} of {topic} [aimed at|for|written for] {audience} {setting}, {constraint}.",
            "quiz",
        ),
        (
            "Explain the {aspect} of {topic} with a comparison {audience} would understand {setting}.",
            "analogy",
        ),
        (
            "Suggest how {audience} can [measure|track|check|notice] progress with {topic} {setting}, "
            "{constraint}.",
            "list",
        ),
        (
            "[Sketch|Draft|Work out|Put together] a realistic budget for {audience} taking up {topic} "
            "{setting}.",
            "list",
        ),
        (
            "[Describe|List|Name|Share] {num} [habits|routines|small practices] that make {topic} "
            "[easier|less "
            "stressful|more enjoyable] for {audience} {setting}.",
            "list",
        ),
        ("Explain to {audience} how the {aspect} of {topic} differ from those of {topic2}.", "compare"),
        ("Turn the {aspect} of {topic} into {form} for {audience} {setting}.", "prose"),
        (
            "Recommend questions {audience} should ask an expert on {topic} {setting}, {constraint}.",
            "questions",
        ),
        ("Help {audience} decide whether {topic} is worth the effort {setting}, {constraint}.", "prose"),
        (
            "{setting:cap}, what should {audience} know about the {aspect} of {topic}? Answer {constraint}.",
            "prose",
        ),
        (
            "{setting:cap}, how can {audience} [start|keep up|get better at|save money on] {topic}?",
            "list",
        ),
        (
            "As {audience}, how would you [explain|defend|question|summarize] the {aspect} of {topic} "
            "{constraint}?",
            "prose",
        ),
        ("For {audience} {setting}, [list|rank|name] the {aspect} of {topic} {constraint}.", "list"),
    ),
    with_input_templates=(
        (
            "[Label|Classify|Tag|Mark] [this|the] [claim|statement|remark] about {topic} as fact or opinion "
            "[for|to help] {audience} {setting}, {constraint}.",
            "fact_opinion",
        ),
        (
            "Fact or opinion? [Judge|Decide|Assess] the [claim|statement|sentence] below about {topic} "
            "[for|with] "
            "{audience} {setting}, {constraint}.",
            "fact_opinion",
        ),
        (
            "[Summarize|Sum up|Condense|Boil down] [the|this] [note|update|message] [below|] from {audience} "
            "about "
            "{topic} {setting}, {constraint}.",
            "summary",
        ),
        (
            "[Rewrite|Rework|Adapt|Revise] the [text|passage|note] [below|] [about|on] {topic} so it "
            "[suits|works "
            "for|speaks to] {audience} {setting}, {constraint}.",
            "rewrite",
        ),
        (
            "[Read|Consider|Look at] this message about {topic}, [name|identify|find] its "
            "[main|biggest|central] "
            "[worry|concern|fear], and [reply to|reassure|answer] {audience} {constraint}.",
            "concern",
        ),
        (
            "[Suggest|Propose|Write|Come up with] a [title|headline|heading] [for the passage below|for this "
            "text|for the article below] on the {aspect} of {topic}, aimed at {audience} {setting}.",
            "title",
        ),
        (
            "[Extract|Pull out|List|Collect] the [action items|tasks|to-dos|follow-ups] [from these "
            "notes|from the "
            "minutes below|in these meeting notes] on {topic} for {audience} {constraint}.",
            "actions",
        ),
        (
            "[Is|Would you call] this review of a [workshop|class|course|session] on {topic} [positive or "
            "negative|negative or positive|favorable or unfavorable]? [Explain|Answer|Reply] for {audience} "
            "{setting}, {constraint}.",
            "sentiment",
        ),
        (
            "[Fix|Correct|Repair|Clean up] the [spelling mistakes|typos|misspelled words] in this sentence "
            "about "
            "{topic} [written by|from|sent by] {audience} {setting}.",
            "spelling",
        ),
        (
            "[Turn|Convert|Rework|Weave] [these|the following|the listed] facts [about|on] {topic} into [a "
            "short|a "
            "brief|a clear|one] [explanation|overview|summary] for {audience} {setting}, {constraint}.",
            "facts",
        ),
        (
            "[Answer|Respond to|Address|Take on] [this|the following|the] question [about|on] {topic} [as if "
            "speaking to|for|in words that suit] {audience} {setting}, {constraint}.",
            "answer",
        ),
        (
            "[Sort|Group|Split|Divide] [these|the following|the listed] [items|words|things] into {cat1} and "
            "{cat2} [for|to help] {audience} {setting}, {constraint}.",
            "sort",
        ),
        (
            "[Respond to|Answer|Reply to|Write a reply to] [this|the] [complaint|grievance|angry "
            "email|negative "
            "feedback] about a [class|course|workshop] on {topic} [on behalf of|as|speaking for] {audience}, "
            "{constraint}.",
            "complaint",
        ),
        (
            "[Find|Spot|Identify|Point out] the [weakest|least convincing|shakiest] [argument|point|claim] "
            "in "
            "[this|the following] text about {topic}, then [explain why|say why|show why] to {audience} "
            "{constraint}.",
            "weakest",
        ),
        (
            "[Improve|Rework|Rearrange|Adjust] [the|this] [weekly schedule|week plan|calendar] [so|so that] "
            "{audience} [can make time for|can fit in|have room for] {topic} {setting}, {constraint}.",
            "schedule",
        ),
        (
            "[Shorten|Trim|Tighten|Cut down] [this|the] [message|email|post] [about|on] {topic} for "
            "{audience} "
            "{setting} [without losing|but keep|while keeping] its [key|main|central] [point|message|idea].",
            "summary",
        ),
        (
            "[List|Pull out|Note|Extract] [the key points|the main ideas|what matters most] [about|on] the "
            "{aspect} of {topic} [in|from] [this|the] [text|passage|article] for {audience}, {constraint}.",
            "key_points",
        ),
        (
            "[Given|Based on|After reading] [the|this] [note|message|update] from {audience}, "
            "[suggest|propose|"
            "recommend] {num} [next steps|follow-up actions|practical moves] for {topic} {setting}.",
            "next_steps",
        ),
        (
            "[Classify|Label|Mark|Sort] [each|every] [comment|reply|response] [below|in this thread] about "
            "{topic} "
            "as [helpful or unhelpful|useful or not useful] for {audience} {setting}, {constraint}.",
            "comments",
        ),
        (
            "[Reply to|Answer|Respond to] [the|this] question from {audience} about the {aspect} of {topic} "
            "{setting}, {constraint}.",
            "answer",
        ),
        (
            "[Point out|List|Name|Spot] the [assumptions|hidden assumptions|unstated premises] [in|behind] "
            "the "
            "[claim|statement|argument] below about {topic} for {audience} {constraint}.",
            "assumptions",
        ),
        (
            "[Rate|Score|Grade] the advice below about {topic} [from one to five|on a five-point scale|out "
            "of "
            "five] for {audience} {setting}, {constraint}.",
            "rate",
        ),
        (
            "[Convert|Turn|Rework] the [informal|rough|scribbled] notes below on {topic} into {form} for "
            "{audience} {setting}.",
            "rewrite",
        ),
        (
            "[Check|Judge|Assess|Decide] whether [the|this] [plan|schedule|timeline] for {topic} is "
            "[realistic|"
            "doable|achievable] for {audience} {setting}, {constraint}.",
            "plan_check",
        ),
        (
            "[Translate|Turn|Rewrite] the [jargon|technical terms|specialist language] in [this|the] "
            "[passage|"
            "note|text] about {topic} into [plain words|everyday language|simple terms] for {audience} "
            "{setting}, "
            "{constraint}.",
            "rewrite",
        ),
        (
            "[Give|Write|Offer] [feedback|comments|a critique] on [this|the] [draft|text|post] about {topic} "
            "for "
            "{audience}, {constraint}.",
            "rate",
        ),
        (
            "[Pick|Choose|Select] the [most useful|best|most practical] tip [from|in] [this|the] list about "
            "{topic} for {audience} {setting}.",
            "pick_tip",
        ),
        (
            "[Turn|Convert|Rework] [these|the] questions about {topic} into a [short|friendly|clear] FAQ for "
            "{audience} {constraint}.",
            "faq",
        ),
        (
            "[Write|Draft|Compose] a [reply|response|short answer] to this [email|message|text] about "
            "{topic} from "
            "{audience} {setting}, {constraint}.",
            "concern",
        ),
        (
            "[Find|Spot|Flag] anything [unsafe|risky|misleading] in [this|the] advice about {topic} for "
            "{audience} {setting}.",
            "risk_check",
        ),
        (
            "[Continue|Finish|Complete] [this|the] [story|passage|note] about {topic} for {audience} "
            "{constraint}.",
            "continue",
        ),
    ),
    inputs={
        "fact_opinion": ("{claim}",),
        "summary": (
            "I started {topic} {setting}. The hardest part so far has been the {aspect}. Next week I plan to "
            "{action}. Honestly, I worry that {worry}.",
            "Quick update on {topic}: we tried to {action}, but the {aspect} slowed us down. I still think "
            "it is "
            "worth it, although I worry that {worry}.",
        ),
        "rewrite": ("{prose}",),
        "concern": (
            "Hi, I have been reading about {topic} for my family. Everyone mentions the {aspect}, and I "
            "worry that "
            "{worry}. Is it still worth trying?",
        ),
        "title": ("{prose}",),
        "actions": ("{meeting_notes}",),
        "sentiment": ("{review}",),
        "spelling": ("{noisy_sentence}",),
        "facts": ("{facts}",),
        "answer": ("{question_text}",),
        "sort": ("{items}",),
        "complaint": (
            "I signed up for the {topic} class, but {problem}. I would like to know what you will do about "
            "it.",
        ),
        "weakest": ("{arguments}",),
        "schedule": ("{schedule}",),
        "key_points": ("{prose}",),
        "next_steps": (
            "I want to get better at {topic}, but the {aspect} keep getting in the way and I worry that "
            "{worry}.",
        ),
        "comments": ("{comments}",),
        "assumptions": ("{opinion_claim}",),
        "rate": ("{advice}",),
        "plan_check": ("Week 1: {action:cap}.\nWeek 2: {action2:cap}.\nWeek 3: {action3:cap}.",),
        "pick_tip": ("{tips}",),
        "faq": ("{question_list}",),
        "risk_check": ("{advice}",),
        "continue": ("{prose}",),
    },
    outputs={
        "prose": ("{prose}",),
        "list": ("{tips}",),
        "questions": ("{question_list}",),
        "names": ("{names}",),
        "quiz": ("{quiz}",),
        "compare": (
            "{topic:cap} suits people who want quick, visible results, while {topic2} rewards patience. "
            "{prose}",
            "Both {topic} and {topic2} take steady effort, but they differ in cost and pace. {prose}",
        ),
        "analogy": (
            "Think of it as {analogy}: {reason}. The comparison falls short because real situations bring "
            "trade-offs and setbacks that a simple comparison hides.",
        ),
        "estimate": (
            "Most people in this position need about {weeks} weeks of steady effort to feel comfortable with "
            "{topic}. The estimate assumes they {action} and {action2}; it can be shorter when {reason}.",
        ),
        "fact_opinion": ("{claim_label}. {claim_explanation}",),
        "summary": (
            "The writer is working on {topic} and worries that {worry}, so the next step is to {action}.",
        ),
        "rewrite": ("{prose_alt}",),
        "concern": (
            "The main worry is that {worry}. It is still worth trying: {action} and {action2}, because "
            "{reason}.",
        ),
        "title": ("{title}",),
        "actions": ("{action_items}",),
        "sentiment": ("{review_label}. {review_reason}",),
        "spelling": ("{clean_sentence}",),
        "facts": ("{prose}",),
        "answer": ("{prose}",),
        "sort": ("{cat1:cap}: {group1}\n{cat2:cap}: {group2}",),
        "complaint": (
            "Thank you for telling us, and I am sorry that {problem}. We will {fix} and contact you within "
            "two "
            "days to confirm.",
        ),
        "weakest": (
            'The weakest argument is "{weak_argument}" It relies on popularity rather than evidence, so it '
            "does "
            "not show that {topic} is worthwhile.",
        ),
        "schedule": ("{schedule_advice}",),
        "key_points": ("{prose_points}",),
        "next_steps": ("{tips}",),
        "comments": ("{comment_labels}",),
        "assumptions": (
            "The claim assumes that everyone has the same goals, time and budget, and that {topic} works the "
            "same way {setting}. Both assumptions deserve a check before acting on it.",
        ),
        "rate": ("{score}/5. {score_reason}",),
        "plan_check": (
            "Mostly realistic. The first two weeks are manageable, but the third week needs more time than "
            "it "
            "seems, so it helps to {action4} before starting it.",
        ),
        "pick_tip": ("Tip {pick} is the most useful one, because {reason}.",),
        "faq": ("{quiz}",),
        "risk_check": (
            "The risky part is the suggestion to skip the basics: beginners who {action} first avoid most "
            "injuries and wasted money, because {reason}.",
        ),
        "continue": ("{prose_alt}",),
    },
    patterns={
        "prose": (
            "Paying attention to {topic} matters because {reason}.",
            "A sensible first step is to {action}.",
            "Many people overlook the {aspect} of {topic}, so it helps to {action}.",
            "{setting:cap}, the best approach is to {action} and {action2}.",
            "Over time, most beginners find that {reason}.",
            "The main idea is simple: {action}, then {action2}.",
            "It also helps to {action}, because {reason}.",
            "Above all, {action}.",
            "The {aspect} are often what decides whether the effort pays off.",
            "A useful rule of thumb is to {action} whenever you feel stuck.",
        ),
        "tip": ("{action:cap}.", "{action:cap}, because {reason}.", "{action:cap} {setting}."),
        "question": (
            "What are the {aspect} of {topic}?",
            "How much time does {topic} usually take each week?",
            "Which mistakes should beginners avoid with {topic}?",
            "Where can I find reliable advice on {topic}?",
            "How do I know whether I am making progress with {topic}?",
            "What does {topic} cost at the start?",
            "Who can help me get started with {topic}?",
            "Is {topic} realistic {setting}?",
        ),
        "quiz": (
            "Q: Why should beginners {action}? A: Because {reason}.",
            "Q: What is a common mistake with {topic}? A: Forgetting to {action}.",
            "Q: True or false: {topic} only works for experts. A: False; most people start small and learn.",
            "Q: What is one of the {aspect} of {topic}? A: The need to {action}.",
            "Q: How can someone start {topic} {setting}? A: {action:cap}.",
            "Q: What helps most when motivation drops? A: Remembering that {reason}.",
            "Q: Name one habit that pays off with {topic}. A: Make sure to {action}.",
        ),
        "name": ("The {adjective} {noun} {group}",),
        "fact": (
            "Many towns have local groups for {topic}.",
            "Beginners often underestimate the {aspect} of {topic}.",
            "Most people who stick with {topic} {action}.",
            "Costs for {topic} vary widely by region.",
        ),
        "fact_claim": (
            "{topic:cap} has been studied by researchers for several decades.",
            "Community colleges in many countries offer evening classes on {topic}.",
            "Interest in {topic} tends to rise when household costs go up.",
        ),
        "opinion_claim": (
            "{topic:cap} is the most rewarding way anyone could spend a weekend.",
            "Nobody should bother with {topic} unless they have plenty of free time.",
            "Schools are wasting everyone's time by not teaching {topic}.",
        ),
        "review_positive": (
            "The instructor explained {topic} clearly and patiently.",
            "I left with practical skills I used the very next day.",
            "The handouts were well organized and easy to follow.",
        ),
        "review_negative": (
            "The session started late and ended in a rush.",
            "Most of the examples felt out of date.",
            "It cost more than advertised and covered very little.",
        ),
        "argument_strong": (
            "Regular practice of {topic} tends to {benefit}.",
            "Studies of {topic} report that it can {benefit}.",
        ),
        "argument_weak": ("Everyone I know likes {topic}, so it must be worthwhile.",),
        "comment_helpful": ("Try to {action}; it made a big difference for me.", "It helped me to {action}."),
        "comment_unhelpful": ("This is pointless, just give up.", "Whatever, everyone does it differently."),
        "title": (
            "The {aspect:title} of {topic:title}",
            "{topic:title}: What to Know About the {aspect:title}",
            "A Practical Look at {topic:title}",
        ),
        "advice": (
            "If you want to get into {topic}, {action} and {action2}. Skip the basics, because {reason}.",
        ),
        "score_reason": (
            "The first suggestion is sound, but skipping the basics is risky for beginners.",
            "Useful steps overall, although the advice ignores cost and safety.",
        ),
        "benefit": (
            "save money over time",
            "build lasting skills",
            "reduce daily stress",
            "bring people together",
        ),
        "adjective": ("Curious", "Bright", "Steady", "Green", "Open", "Friendly", "Bold", "Quiet", "Rising"),
        "noun": ("Sprouts", "Owls", "Lanterns", "Compass", "Harbor", "Roots", "Sparks", "Bridges", "Acorns"),
        "group": ("Club", "Circle", "Society", "Collective", "Crew"),
    },
    labels={
        "fact": "Fact",
        "opinion": "Opinion",
        "fact_explanation": "The claim describes something that records or observation can confirm.",
        "opinion_explanation": "The claim is a personal judgment that people can reasonably disagree with.",
        "positive": "Positive",
        "negative": "Negative",
        "positive_reason": "The reviewer praises the teaching and the practical value of the session.",
        "negative_reason": "The reviewer complains about the organization and the value for money.",
        "helpful": "Helpful",
        "unhelpful": "Unhelpful",
        "free_day_advice": "Use the free evening on {day} for a focused session on {topic}.",
        "schedule_tip": "Keep the {chore} on {day} as it is, and protect it from extra commitments.",
        "action_item": "{name}: {action}",
    },
    categories=(
        (
            "fruits",
            ("apple", "mango", "pear", "plum", "cherry"),
            "vegetables",
            ("carrot", "leek", "spinach", "onion"),
        ),
        (
            "mammals",
            ("otter", "bat", "whale", "goat", "fox"),
            "birds",
            ("sparrow", "heron", "owl", "penguin"),
        ),
        (
            "renewable sources",
            ("wind", "solar", "tidal", "geothermal"),
            "fossil fuels",
            ("coal", "diesel", "natural gas"),
        ),
        (
            "kitchen tools",
            ("whisk", "ladle", "peeler", "colander"),
            "garden tools",
            ("rake", "hoe", "trowel", "shears"),
        ),
        (
            "metals",
            ("copper", "iron", "zinc", "tin", "silver"),
            "gases",
            ("oxygen", "helium", "neon", "argon"),
        ),
        ("planets", ("Mars", "Venus", "Saturn", "Neptune"), "moons", ("Titan", "Europa", "Phobos", "Io")),
        ("fabrics", ("wool", "linen", "denim", "silk"), "woods", ("oak", "pine", "maple", "birch", "cedar")),
    ),
    refusals=(
        "As an AI language model, I cannot complete this task.",
        "As an AI language model, I cannot provide personal opinions or advice on this topic.",
        "I'm sorry, but as an AI language model I cannot help with that request.",
        "As an AI language model, I do not have access to real-time information, so I cannot answer this.",
    ),
    preambles=(
        "Sure! Here are more tasks:\n\n",
        "Here are the next tasks in the same format:\n\n",
        "Of course. Continuing the list:\n\n",
    ),
    garbage=(
        "I'm sorry, I lost track of the format. Could you share the list again?",
        "Here are some ideas: drink more water, go for a walk, and call a friend.",
        "Thank you for the examples! Let me know if you would like me to continue.",
        '{"tasks": [], "status": "incomplete"}',
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.",
    ),
    near_duplicate_prefixes=("", "", "Please ", "Briefly, "),
    near_duplicate_suffixes=("", "", " Keep it short.", " Be specific."),
)

_KOREAN_TOPICS = (
    "베란다 텃밭 가꾸기", "실내 화분 관리", "음식물 쓰레기 줄이기", "빗물 재활용", "집안 정리 정돈",
    "겨울철 난방비 절약", "수도꼭지 수리", "창문 단열", "반려식물 키우기", "분리수거 습관", "김치 담그기",
    "천연 발효빵 만들기", "일주일 식단 계획", "된장찌개 끓이기", "도시락 준비", "제철 과일 디저트",
    "채식 단백질 식품", "전통 장 담그기", "핸드드립 커피", "남은 밥 활용 요리", "비상금 마련",
    "인덱스 펀드 투자", "신용카드 빚 갚기", "월 예산 세우기", "연금 저축", "전세와 월세 비교", "중고차 구입",
    "실손 보험 선택", "가계부 쓰기", "충동구매 줄이기", "초보자 근력 운동", "숙면 습관", "사무실 스트레칭",
    "마라톤 준비", "직장 스트레스 관리", "명상 호흡법", "스마트폰 사용 시간 줄이기", "건강한 간식",
    "허리 통증 완화 요가", "자전거 출퇴근", "면접 준비", "이력서 작성", "경력 전환", "효율적인 회의 진행",
    "건설적인 피드백", "재택근무 소통", "승진 요청", "후배 멘토링", "시간 관리", "번아웃 예방", "외국어 공부",
    "간격 반복 학습", "강의 필기법", "분수 가르치기", "한국사 시험 준비", "독서 습관", "어휘 암기",
    "연구 계획서 작성", "바둑 입문", "수어 배우기", "광합성", "판 구조론", "물의 순환", "블랙홀", "백신 개발",
    "항생제 내성", "해양 산성화", "온실 효과", "철새 이동", "산호초 생태계", "비밀번호 관리", "이중 인증",
    "노트북 백업", "피싱 메일 구별", "스마트홈 개인정보", "클라우드 저장 비용", "전기차 충전",
    "오픈소스 라이선스", "스프레드시트 함수", "웹 접근성", "탄소 발자국 줄이기", "동네 하천 보호",
    "도시 나무 심기", "지속 가능한 패션", "생활 속 물 절약", "플라스틱 없는 장보기", "빛 공해 줄이기",
    "꿀벌 보호", "옥상 정원", "고쳐서 다시 쓰기", "금속활자", "실크로드", "조선 시대 과거 제도", "한글 창제",
    "고려청자", "산업 혁명", "아폴로 달 착륙", "전화기 발명", "전통 한옥", "세계 여러 나라의 민담", "수채화",
    "도자기 공예", "뜨개질", "단편 소설 쓰기", "서예", "탐조", "아마추어 천체 관측", "목공 안전", "종이접기",
    "시 쓰기", "짐 가볍게 싸기", "아이와 함께하는 여행", "혼자 등산하기", "기차 여행", "시차 적응",
    "우중 캠핑", "국립공원 탐방", "해외 예절", "자동차 여행 계획", "생태 관광", "아이 잠자리 습관",
    "아이 경제 교육", "형제 갈등", "청소년 스마트폰 규칙", "가족 보드게임", "강아지 훈련", "유기묘 입양",
    "부모님 돌봄", "집안일 나누기", "어린이집 선택", "동네 환경 정화", "학교 바자회", "마을 공동 텃밭",
    "푸드뱅크 봉사", "지방 선거 투표", "작은 카페 창업", "수공예품 가격 책정", "재고 관리",
    "온라인 쇼핑몰 운영", "독서 모임 운영", "새 습관 만들기", "미루는 습관 고치기", "경청",
    "친구와의 갈등 해결", "어른이 되어 친구 사귀기", "외로움 대처", "감사 일기", "거절하는 법", "결정 피로",
    "성장 마인드셋",
)  # fmt: skip

_KOREAN_AUDIENCES = (
    "간호학과 신입생", "은퇴한 교사", "동네 빵집 사장님", "쌍둥이를 키우는 부모", "고등학교 2학년 학생",
    "신입 개발자", "처음 투표하는 유권자", "야간 근무자", "귀농한 청년", "대학 운동선수", "교환 학생",
    "물류 센터 관리자", "전업주부", "한국에 온 지 얼마 안 된 이민자", "병원 자원봉사자", "자전거 동호회 회원",
    "열 살 어린이", "중학교 과학 교사", "프리랜서 번역가", "버스 기사", "자취하는 대학생", "신혼부부",
    "대학원 연구원", "도서관 사서", "호텔 프런트 직원", "배달 기사", "헬스 트레이너", "박물관 해설사",
    "처음 팀장이 된 직장인", "항공 승무원", "도시 계획가", "국립공원 관리원", "치위생사", "마을 활동가",
    "수줍음 많은 청소년", "혼자 사는 어르신", "유치원 교사", "식당 요리사", "화물차 기사", "스타트업 창업자",
    "약국 직원", "건설 현장 견습생", "직장인 대학원생", "수의 간호사", "결혼을 앞둔 커플",
    "손주를 돌보는 조부모", "인명 구조 요원", "콜센터 상담원", "동네 서점 주인", "마라톤 초보자",
    "의심 많은 기자", "청년 창업가", "작은 가게 주인", "토론 동아리 학생", "호기심 많은 여덟 살 아이",
    "의용 소방대원", "사회복지사", "요가 강사", "편의점 아르바이트생", "장거리 통근자", "초보 반려인",
)  # fmt: skip

_KOREAN_AUDIENCE_DESCRIPTORS = (
    "새로 입사한", "은퇴한", "바쁜", "호기심 많은", "처음 시작하는", "경험 많은", "젊은", "시골에 사는",
    "아르바이트하는", "자취하는", "야간에 일하는", "주말에만 쉬는", "독학하는", "조심성 많은", "의욕 넘치는",
    "이사 온 지 얼마 안 된", "예산이 빠듯한", "두 언어를 쓰는", "수줍음 많은", "경력이 오래된",
)  # fmt: skip

_KOREAN_AUDIENCE_ROLES = (
    "간호사", "버스 기사", "사서", "빵집 사장님", "개발자", "농부", "대학생", "과학 교사", "번역가", "부모",
    "가게 주인", "요리사", "배달 기사", "트레이너", "해설사", "팀장", "승무원", "치위생사", "유치원 교사",
    "화물차 기사", "창업자", "약사", "목수", "수의사", "상담원", "서점 주인", "기자", "소방관", "사회복지사",
    "요가 강사", "계산원", "정원사", "과외 선생님", "여행 가이드", "세입자", "무용수", "전기 기사", "연구원",
    "운동선수", "바리스타", "배관공", "회계사", "미용사", "정비사", "디자이너", "건축가", "어부", "재단사",
    "은행원", "요양 보호사", "편집자", "인턴", "경비원", "용접공", "작가", "사육사", "웨딩 플래너",
)  # fmt: skip

_KOREAN_ASPECTS = (
    "숨은 비용", "주요 장점", "흔한 실수", "안전 위험", "장기적인 효과", "장단점", "윤리적 쟁점",
    "실천 가능한 첫걸음", "경고 신호", "역사적 기원", "대표적인 오해", "환경 영향", "사회적 이점",
    "법적 고려 사항", "꼭 알아야 할 용어", "놀라운 사실", "모범 사례", "일반적인 비용", "초기 목표",
    "과소평가된 장점", "주요 과제", "문화적 영향", "건강 효과", "유용한 습관", "핵심 원칙", "경제적 효과",
    "초보자가 빠지기 쉬운 함정", "지켜야 할 규칙", "향후 전망", "지역별 차이", "정서적 이점", "필요한 시간",
    "필요한 준비물", "성공 사례", "과학적 원리", "예산 계획", "개인정보 위험", "계절별 특징",
    "공동체에 주는 이익", "약점", "빠른 성과", "장기적인 보상", "유지 관리 방법", "성공 요인", "기회비용",
    "근본 원인", "주요 단계", "논쟁거리", "일상 속 예시", "놓치기 쉬운 부분",
)  # fmt: skip

_KOREAN_WHEN = (
    "적은 예산으로", "무더위 속에서", "면접을 앞두고", "야간 근무를 마친 뒤", "해외여행 중에",
    "정전이 되었을 때", "새 학기 첫 주에", "하루 10분만 투자해서", "명절 연휴 동안", "감기에서 회복하는 동안",
    "이사를 앞두고", "비 오는 주말에", "경험이 전혀 없는 상태에서", "긴 기차 여행 중에", "시험 기간에",
    "어린 자녀를 돌보면서", "은퇴한 뒤에", "풀타임으로 일하면서", "여름 방학 동안", "경력 단절 후에",
    "지역 축제 기간에", "신생아를 돌보면서", "마감을 앞두고", "새 직장 첫날에", "봄이 시작될 때",
    "룸메이트와 함께 살면서", "병원에 오래 입원한 동안", "연말이 되기 전에", "눈이 많이 오는 날에",
    "자전거로 출퇴근하면서", "장마철에", "퇴근 후 저녁 시간에", "긴 연휴 동안", "다이어트 중에",
    "손목을 다친 상태에서", "인터넷이 자주 끊길 때", "첫 월급을 받은 뒤",
)  # fmt: skip

_KOREAN_WHERE = (
    "좁은 원룸에서", "시골 마을에서", "시끄러운 사무실에서", "복잡한 도시에서", "캠핑장에서",
    "바닷가 마을에서", "주민 센터에서", "여러 언어를 쓰는 가정에서", "오래된 주택에서", "섬마을에서",
    "주말 장터에서", "산속 오두막에서", "기숙사 방에서", "작은 동네 도서관에서", "공유 주방에서",
    "아파트 베란다에서", "학교 과학실에서", "동네 카페에서", "고시원에서", "시장 골목에서", "요양원에서",
    "버스 터미널에서",
)  # fmt: skip

_KOREAN_FORMATS = (
    "다섯 개의 짧은 항목으로", "정확히 세 문장으로", "신문 헤드라인처럼", "친구에게 보내는 문자처럼",
    "100자 이내로", "두 친구의 짧은 대화 형식으로", "한 문단으로", "5분 발표용으로", "두 문장 이내로",
    "일곱 개 이하의 항목으로", "질문과 답변 형식으로", "번호를 붙인 단계로", "편지 형식으로",
    "해야 할 일과 하지 말아야 할 일로 나누어", "짧은 이야기 형식으로", "표 형식으로", "한 줄 요약을 덧붙여",
    "세 부분으로 나누어",
)  # fmt: skip

_KOREAN_STYLES = (
    "쉬운 말로", "전문 용어 없이", "따뜻하고 격려하는 말투로", "구체적인 예를 하나 들어",
    "회의적인 사람의 관점에서", "간단한 비유를 사용해", "상표 이름을 언급하지 않고", "약간의 유머를 섞어",
    "격식 있는 말투로", "실용적인 질문으로 끝나도록", "분명한 행동 촉구를 담아", "장단점을 모두 포함해",
    "아이도 이해할 수 있게", "설득력 있는 문체로", "전문가의 시각에서", "현실적인 일정과 함께",
    "차분하고 안심시키는 어조로", "쉬운 것부터 어려운 것 순서로", "간단한 역사적 배경을 곁들여",
    "각 항목을 동사로 시작해", "할머니가 손주에게 말하듯",
)  # fmt: skip

_KOREAN_FORMS = (
    "짧은 설득 글", "친근한 이메일", "두 문장 요약", "체크리스트", "짧은 시", "상품 소개 문구", "SNS 게시글",
    "자기소개서 첫 문단", "짧은 대화문", "퀴즈 문제와 정답", "자주 묻는 질문 답변", "연설 도입부",
    "짧은 소설의 첫 장면", "수수께끼", "소식지 문구", "정중한 항의 편지", "감사 편지", "표어", "일기",
    "뉴스 제목과 첫 문장", "구인 공고", "짧은 후기", "환영 인사말", "공익 광고 문구", "교훈이 있는 우화",
)  # fmt: skip

_KOREAN_ACTIONS = (
    "매주 정해진 시간을 비워 두기", "분명한 목표를 하나 적어 두기", "경험 많은 사람에게 솔직한 조언 구하기",
    "가장 간단한 방법부터 시작하기", "시도한 내용을 짧게 기록하기", "믿을 만한 입문서를 한 권 읽기",
    "결정하기 전에 선택지를 세 가지 이상 비교하기", "일을 작은 단계로 나누기",
    "시작하기 전에 관련 규정 확인하기", "하루 15분씩 연습하기", "시도할 때마다 잘못된 점 돌아보기",
    "계획을 친구와 공유하기", "예상치 못한 비용에 대비하기", "작은 규모로 먼저 시험해 보기",
    "작은 성과를 축하하기", "전날 밤에 필요한 것을 미리 준비하기", "한 번에 한 가지 습관만 바꾸기",
    "용어부터 차근차근 익히기", "현실적인 마감일 정하기", "모르는 것은 일찍 물어보기",
    "함께 배울 동네 모임 찾기", "세션 사이에 충분히 쉬기", "강도보다 꾸준함에 집중하기",
    "장비는 사기 전에 빌려 써 보기", "짧은 체크리스트를 만들어 반복해서 쓰기", "궂은 날씨나 지연에 대비하기",
    "진행 상황을 숫자 하나로 기록하기", "눈에 띄는 방해 요소 하나 없애기", "잘된 점을 적어 두고 반복하기",
    "매주 한 번 점검하기",
)  # fmt: skip

_KOREAN_REASONS = (
    "작은 변화가 시간이 지나면 크게 쌓이기 때문입니다", "나중에 큰 실수를 막을 수 있기 때문입니다",
    "자신감이 조금씩 쌓이기 때문입니다", "빠른 피드백이 있으면 더 빨리 배우기 때문입니다",
    "오래 지속할 수 있기 때문입니다", "장기적으로 비용을 아낄 수 있기 때문입니다",
    "계획이 바뀌어도 덜 불안하기 때문입니다", "진행 상황이 눈에 보이기 때문입니다",
    "건강과 안전을 지킬 수 있기 때문입니다", "막연한 목표가 구체적인 계획이 되기 때문입니다",
)  # fmt: skip

_KOREAN_WORRIES = (
    "시간이 부족할까 봐", "비용이 계속 늘어날까 봐", "방법이 틀렸을까 봐", "가족들이 흥미를 잃을까 봐",
    "시작하기엔 너무 늦었을까 봐", "다칠까 봐", "도와줄 사람이 없을까 봐", "효과가 오래가지 않을까 봐",
)  # fmt: skip

KOREAN = Phrasebook(
    language="ko",
    tables={
        "topic": _KOREAN_TOPICS,
        "audience": _KOREAN_AUDIENCES,
        "descriptor": _KOREAN_AUDIENCE_DESCRIPTORS,
        "role": _KOREAN_AUDIENCE_ROLES,
        "aspect": _KOREAN_ASPECTS,
        "when": _KOREAN_WHEN,
        "where": _KOREAN_WHERE,
        "format": _KOREAN_FORMATS,
        "style": _KOREAN_STYLES,
        "form": _KOREAN_FORMS,
        "action": _KOREAN_ACTIONS,
        "reason": _KOREAN_REASONS,
        "worry": _KOREAN_WORRIES,
        "name": ("민지", "서준", "지우", "하준", "수아", "도윤", "예린", "현우", "채원", "지호"),
        "problem": (
            "수업이 예고 없이 두 번이나 취소되었습니다",
            "문의 메일에 아무도 답하지 않았습니다",
            "교재가 2주나 늦게 도착했습니다",
            "수강료가 두 번 결제되었습니다",
        ),
        "fix": (
            "중복 결제된 금액을 환불해",
            "빠진 수업을 무료로 다시 잡아",
            "교재를 빠른 배송으로 다시 보내",
        ),
    },
    numbers=(("세", 3), ("네", 4), ("다섯", 5), ("여섯", 6), ("일곱", 7)),
    no_input_templates=(
        (
            "{setting} {topic:을} 고민하는 {audience}에게 그 {aspect:을} {constraint} [설명해 "
            "주세요|설명하세요|"
            "풀어서 알려 주세요|정리해 주세요].",
            "prose",
        ),
        (
            "{setting} {topic:을} 시작하려는 {audience:을} 위해 {form:을} {constraint} [써 주세요|작성해 "
            "주세요|"
            "만들어 주세요].",
            "prose",
        ),
        (
            "{setting} {topic:을} 해 보려는 {audience}에게 [조언을|팁을|요령을] {num} 가지 {constraint} "
            "[알려 "
            "주세요|제안하세요|정리해 주세요].",
            "list",
        ),
        (
            "{setting} {audience}의 [입장에서|눈높이에서|관점에서] {topic}의 {aspect:을} {num} 가지 "
            "[정리하고|"
            "골라] 각각 {constraint} [설명하세요|풀어 주세요].",
            "list",
        ),
        (
            "{setting} {topic:과} {topic2} 중 무엇이 나을지 {audience}의 [입장에서|관점에서] {constraint} "
            "[비교해 주세요|비교하세요].",
            "compare",
        ),
        (
            "{setting} {audience:이} {topic}의 {aspect}에 대해 물어볼 만한 질문을 {num} 개 [만들어 "
            "보세요|뽑아 "
            "주세요|적어 주세요].",
            "questions",
        ),
        (
            "{setting} 읽을 {audience:을} 위해 {topic:을} 소개하는 {form:을} {constraint} [작성하세요|써 "
            "주세요].",
            "prose",
        ),
        (
            "{setting} {audience:이} {topic:을} [실천하는|이어 가는|시작하는] 방법을 {constraint} [알려 "
            "주세요|"
            "설명해 주세요|정리해 주세요].",
            "prose",
        ),
        (
            "{setting} {topic:을} 하는 {audience:이} 흔히 [믿는 오해|빠지는 착각] {num} 가지를 {constraint} "
            "[바로잡아 주세요|고쳐 주세요].",
            "list",
        ),
        (
            "{audience:을} 위한 {topic} [학습 계획을|연습 계획을|한 달 계획을|4주 계획을] {setting} 실천할 "
            "수 "
            "있게 {constraint} 세워 주세요.",
            "list",
        ),
        (
            "{topic:이} 앞으로 [10년|20년|몇 년] 동안 {setting} 지내는 {audience}에게 어떤 변화를 가져올지 "
            "{constraint} 예측해 보세요.",
            "prose",
        ),
        (
            "{audience:을} 위해 {topic}의 {aspect}에 관한 [짧은 퀴즈|간단한 퀴즈|OX 퀴즈] {num} 문제를 "
            "{setting} "
            "풀 수 있게 만들어 주세요.",
            "quiz",
        ),
        (
            "{audience:이} {setting} {topic:을} 꾸준히 하기 위한 [하루 일과를|주간 루틴을|아침 습관을] "
            "{constraint} 추천해 주세요.",
            "list",
        ),
        (
            "{topic:이} {setting} {audience}에게 왜 [중요한지|필요한지|도움이 되는지] {constraint} "
            "설명하세요.",
            "prose",
        ),
        (
            "{topic}의 {aspect}에 대해 {setting} 고민하는 {audience}에게 균형 잡힌 의견을 {constraint} "
            "[제시하세요|들려 주세요].",
            "prose",
        ),
        (
            "{audience}에게 {topic:을} 권하는 [짧은 홍보 문구를|광고 문구를|안내문을] {setting} 쓸 수 있게 "
            "{constraint} 써 보세요.",
            "prose",
        ),
        (
            "{setting} {audience:이} {topic}에 익숙해지려면 얼마나 걸릴지 추정하고 근거를 {constraint} "
            "[설명하세요|밝혀 주세요].",
            "prose",
        ),
        (
            "{topic}의 {aspect:을} 주제로 {audience:을} 위한 [수업 개요를|강의 계획을|워크숍 순서를] "
            "{setting} "
            "진행할 수 있게 {constraint} 작성하세요.",
            "list",
        ),
        (
            "{setting} 할 수 있는 {topic} 관련 [주말 활동을|작은 프로젝트를|체험 활동을] {audience}에게 "
            "{constraint} 제안해 주세요.",
            "prose",
        ),
        (
            "{audience:을} 위한 {topic} 모임의 이름을 {num} 개 짓고 {setting} 어울리는 이유를 한 줄씩 붙여 "
            "주세요.",
            "names",
        ),
        ("{topic}의 {aspect:을} {setting} 지내는 {audience}의 입장에서 {constraint} 요약하세요.", "prose"),
        (
            "{audience:이} {setting} {topic}에서 피해야 할 [일을|실수를|습관을] {constraint} [알려 주세요|"
            "정리하세요].",
            "list",
        ),
        (
            "{setting} {topic}에 지친 {audience}에게 힘이 되는 [응원의 말을|격려 메시지를|짧은 편지를] "
            "{constraint} 써 주세요.",
            "prose",
        ),
        (
            "{setting} {audience:이} {topic}에서 [실력이 느는지|진전이 있는지|나아지고 있는지] 확인하는 "
            "방법을 "
            "{constraint} 제안하세요.",
            "list",
        ),
        (
            "{audience:이} {setting} {topic:을} 시작할 때 필요한 예산을 [항목별로|현실적으로|대략] "
            "{constraint} "
            "짜 주세요.",
            "list",
        ),
        (
            "{setting} 지내는 {audience}에게 {topic:을} 설명할 [비유를|예시를] 하나 들고 그 한계도 "
            "{constraint} "
            "말해 주세요.",
            "prose",
        ),
        (
            "{setting} {topic:을} 준비하는 {audience:이} 전문가에게 물어야 할 질문을 {constraint} 정리해 "
            "주세요.",
            "questions",
        ),
        (
            "{topic:이} {setting} {audience}에게 노력할 만한 가치가 있는지 {constraint} [판단해 주세요|"
            "따져 보세요].",
            "prose",
        ),
        (
            "{audience}의 관점에서 {topic}의 {aspect:과} {topic2}의 차이를 {constraint} "
            "[설명하세요|비교하세요].",
            "compare",
        ),
        (
            "{setting} {audience:이} 알아야 할 {topic}의 {aspect:은} 무엇인가요? {constraint} 답해 주세요.",
            "prose",
        ),
    ),
    with_input_templates=(
        (
            "다음 문장이 {topic}에 관한 사실인지 의견인지 {setting} 읽을 {audience}에게 {constraint} "
            "설명하며 "
            "[분류하세요|구분해 주세요|판단해 주세요].",
            "fact_opinion",
        ),
        (
            "[다음은|아래는] {audience:이} {topic}에 대해 쓴 [메모|글|일기]입니다. {setting} 읽기 좋게 "
            "{constraint} [요약하세요|줄여 주세요|정리해 주세요].",
            "summary",
        ),
        (
            "[아래 글을|다음 글을|이 글을] {setting} {topic}에 관심을 가진 {audience}에게 맞게 {constraint} "
            "[다시 "
            "써 주세요|고쳐 써 주세요|바꿔 써 주세요].",
            "rewrite",
        ),
        (
            "다음 {topic} [강좌|수업|워크숍] 후기가 [긍정적인지 부정적인지|좋은 평가인지 나쁜 평가인지] "
            "판단하고 "
            "{audience}에게 이유를 {constraint} 적으세요.",
            "sentiment",
        ),
        (
            "다음 글에 {topic}의 {aspect:을} 살린 [제목을|헤드라인을|소제목을] {setting} 읽을 {audience}의 "
            "눈높이에 맞춰 지어 주세요.",
            "title",
        ),
        (
            "{setting} 열린 다음 {topic} [회의록에서|모임 메모에서|논의 내용에서] {audience:이} 해야 할 일을 "
            "{constraint} 모두 뽑아 주세요.",
            "actions",
        ),
        (
            "{setting} {audience:이} {topic}에 대해 쓴 다음 문장의 띄어쓰기를 [바르게 고쳐 주세요|바로잡아 "
            "주세요].",
            "spelling",
        ),
        (
            "아래 {topic} 관련 질문에 {setting} 지내는 {audience}에게 말하듯이 {constraint} [답해 주세요|"
            "답하세요].",
            "answer",
        ),
        (
            "다음 항목들을 {cat1:과} {cat2:으로} 나누어 {setting} {audience}에게 {constraint} 정리해 주세요.",
            "sort",
        ),
        (
            "다음 {topic} [수업에 대한 불만에|강좌에 대한 항의에|모임에 대한 불평에] {setting} {audience}의 "
            "입장에서 {constraint} 답장을 써 주세요.",
            "complaint",
        ),
        (
            "다음 메시지에서 {topic}에 관한 가장 큰 [걱정을|고민을|불안을] 찾아 {setting} 지내는 "
            "{audience}에게 "
            "{constraint} 답해 주세요.",
            "concern",
        ),
        (
            "다음 {topic} 관련 메모를 읽고 {audience:이} {setting} 할 수 있는 다음 단계를 {num} 가지 "
            "[제안하세요|골라 주세요].",
            "next_steps",
        ),
        (
            "다음 {topic} 글의 핵심을 {setting} 바쁜 {audience}에게 맞게 {constraint} [요점만 정리하세요|"
            "항목별로 정리하세요].",
            "key_points",
        ),
        (
            "아래 {topic} 조언이 {setting} 지내는 {audience}에게 적절한지 1점에서 5점 사이로 평가하고 이유를 "
            "{constraint} 쓰세요.",
            "rate",
        ),
        (
            "다음 글을 이어서 {setting} 지내는 {audience:을} 위한 {topic} 이야기로 {constraint} 완성해 "
            "주세요.",
            "continue",
        ),
    ),
    inputs={
        "fact_opinion": ("{claim}",),
        "summary": (
            "{setting} {topic:을} 시작했습니다. 지금까지 가장 어려웠던 점은 {aspect}입니다. 다음 주에는 "
            "{action:을} "
            "해 볼 생각입니다. 솔직히 {worry} 걱정입니다.",
        ),
        "rewrite": ("{prose}",),
        "sentiment": ("{review}",),
        "title": ("{prose}",),
        "actions": ("{meeting_notes}",),
        "spelling": ("{noisy_sentence}",),
        "answer": ("{question_text}",),
        "sort": ("{items}",),
        "complaint": ("{topic} 수업을 신청했는데 {problem}. 어떻게 해결해 주실지 알고 싶습니다.",),
        "concern": (
            "안녕하세요. 가족과 함께 {topic:을} 해 보려고 합니다. 그런데 {aspect:이} 마음에 걸리고 {worry} "
            "걱정됩니다.",
        ),
        "next_steps": (
            "{topic:을} 더 잘하고 싶은데 {aspect:이} 자꾸 발목을 잡습니다. {worry} 걱정도 됩니다.",
        ),
        "key_points": ("{prose}",),
        "rate": ("{advice}",),
        "continue": ("{prose}",),
    },
    outputs={
        "prose": ("{prose}",),
        "list": ("{tips}",),
        "questions": ("{question_list}",),
        "quiz": ("{quiz}",),
        "names": ("{names}",),
        "compare": (
            "{topic:은} 결과가 빨리 보이는 편이고, {topic2:은} 꾸준함이 더 필요합니다. {prose}",
            "{topic:과} {topic2} 모두 꾸준한 노력이 필요하지만 비용과 속도에서 차이가 있습니다. {prose}",
        ),
        "fact_opinion": ("{claim_label}. {claim_explanation}",),
        "summary": (
            "작성자는 {topic:을} 시작했지만 {worry} 걱정하고 있으며, 다음 단계로 {action:을} 계획하고 "
            "있습니다.",
        ),
        "rewrite": ("{prose_alt}",),
        "sentiment": ("{review_label}. {review_reason}",),
        "title": ("{title}",),
        "actions": ("{action_items}",),
        "spelling": ("{clean_sentence}",),
        "answer": ("{prose}",),
        "sort": ("{cat1}: {group1}\n{cat2}: {group2}",),
        "complaint": ("불편을 드려 죄송합니다. {fix} 드리고 이틀 안에 다시 연락드리겠습니다.",),
        "concern": (
            "가장 큰 걱정은 {worry} 불안한 마음입니다. 그래도 {action:과} {action2:을} 해 보면 좋습니다. "
            "{reason}.",
        ),
        "next_steps": ("{tips}",),
        "key_points": ("{prose_points}",),
        "rate": ("{score}/5. {score_reason}",),
        "continue": ("{prose_alt}",),
    },
    patterns={
        "prose": (
            "{topic:은} {audience}에게 중요합니다. {reason}.",
            "첫걸음으로는 {action:이} 좋습니다.",
            "많은 사람이 {topic}의 {aspect:을} 놓치므로 {action:을} 권합니다.",
            "{setting}는 {action:과} {action2:을} 함께 하는 것이 가장 좋습니다.",
            "핵심은 간단합니다. {action:을} 한 다음 {action2:을} 하면 됩니다.",
            "막힐 때마다 {action:을} 떠올리면 도움이 됩니다.",
            "무엇보다 {action:이} 중요합니다.",
        ),
        "tip": ("{action}.", "{action}: {reason}.", "{setting} {action}."),
        "question": (
            "{topic}의 {aspect:은} 무엇인가요?",
            "{topic}에는 일주일에 시간이 얼마나 필요한가요?",
            "{topic:을} 처음 할 때 피해야 할 실수는 무엇인가요?",
            "{topic}에 대한 믿을 만한 조언은 어디서 얻을 수 있나요?",
            "{topic}에서 실력이 늘고 있는지 어떻게 알 수 있나요?",
            "{topic:을} 시작하는 데 비용이 얼마나 드나요?",
        ),
        "quiz": (
            "문제: 초보자가 {action:을} 해야 하는 이유는? 정답: {reason}.",
            "문제: {topic}에서 흔한 실수는? 정답: {action:을} 잊는 것입니다.",
            "문제: {topic:은} 전문가만 할 수 있다. 참일까요? 정답: 거짓입니다. 대부분 작게 시작합니다.",
            "문제: {topic}의 {aspect} 중 하나는? 정답: {action}.",
            "문제: {setting} {topic:을} 시작하는 방법은? 정답: {action}.",
            "문제: 의욕이 떨어질 때 도움이 되는 생각은? 정답: {reason}.",
        ),
        "fact_claim": (
            "{topic:은} 수십 년 동안 연구되어 왔다.",
            "여러 나라의 평생교육원에서 {topic} 강좌를 열고 있다.",
        ),
        "opinion_claim": (
            "{topic:은} 주말을 보내는 가장 보람 있는 방법이다.",
            "시간이 많지 않다면 {topic}에 신경 쓸 필요가 전혀 없다.",
        ),
        "review_positive": (
            "강사님이 {topic:을} 차분하고 쉽게 설명해 주셨어요.",
            "다음 날 바로 써먹을 수 있는 내용이었습니다.",
            "자료가 잘 정리되어 있어 따라가기 쉬웠어요.",
        ),
        "review_negative": (
            "수업이 늦게 시작해서 급하게 끝났습니다.",
            "예시가 대부분 오래된 내용이었어요.",
            "광고보다 비싸고 배운 것은 별로 없었습니다.",
        ),
        "title": (
            "{topic}의 {aspect}, 이것만은 알아 두세요",
            "{topic} 제대로 알기: {aspect}",
            "{topic}, 어디서부터 시작할까",
        ),
        "clean": (
            "{topic:은} 생각보다 어렵지 않습니다.",
            "{setting} {topic:을} 꾸준히 하는 것이 중요합니다.",
            "{topic}의 {aspect:을} 미리 알아 두면 좋습니다.",
        ),
        "comment_helpful": ("{action:을} 해 보세요. 저한테는 큰 도움이 됐어요.",),
        "comment_unhelpful": ("그냥 포기하세요.",),
        "advice": ("{topic:을} 시작하려면 {action:과} {action2:을} 하세요. 기초는 건너뛰어도 됩니다.",),
        "score_reason": (
            "첫 번째 조언은 좋지만 기초를 건너뛰라는 부분은 초보자에게 위험합니다.",
            "전반적으로 유용하지만 비용과 안전에 대한 고려가 빠져 있습니다.",
        ),
        "name": ("{adjective} {noun} {group}: {reason}.",),
        "adjective": ("초록", "반짝", "느긋한", "용감한", "새싹", "두근두근", "든든한", "따뜻한"),
        "noun": ("달팽이", "등대", "나침반", "징검다리", "도토리", "부엉이", "씨앗"),
        "group": ("모임", "클럽", "사랑방", "동아리", "연구회"),
    },
    labels={
        "fact": "사실",
        "opinion": "의견",
        "fact_explanation": "기록이나 관찰로 확인할 수 있는 내용을 담고 있습니다.",
        "opinion_explanation": "사람마다 다르게 판단할 수 있는 개인적인 평가입니다.",
        "positive": "긍정",
        "negative": "부정",
        "positive_reason": "강의 내용과 실용성을 칭찬하고 있습니다.",
        "negative_reason": "진행 방식과 비용 대비 가치에 불만을 나타내고 있습니다.",
        "helpful": "도움이 됨",
        "unhelpful": "도움이 안 됨",
        "action_item": "{name}: {action}",
    },
    categories=(
        ("과일", ("사과", "배", "복숭아", "자두", "감"), "채소", ("당근", "시금치", "양파", "무")),
        ("포유류", ("수달", "박쥐", "고래", "염소"), "조류", ("참새", "왜가리", "부엉이", "펭귄")),
        ("재생 에너지", ("풍력", "태양광", "조력", "지열"), "화석 연료", ("석탄", "경유", "천연가스")),
        ("주방 도구", ("거품기", "국자", "필러", "체"), "정원 도구", ("갈퀴", "호미", "모종삽", "전지가위")),
    ),
    refusals=(
        "AI 언어 모델로서 저는 이 요청을 수행할 수 없습니다.",
        "죄송하지만 AI 언어 모델로서 개인적인 의견을 드릴 수 없습니다.",
        "AI 언어 모델로서 실시간 정보에 접근할 수 없어 답변할 수 없습니다.",
    ),
    preambles=("물론입니다! 이어서 작성하겠습니다:\n\n", "다음 과제들입니다:\n\n"),
    garbage=(
        "죄송합니다. 형식을 잘 이해하지 못했습니다. 다시 설명해 주시겠어요?",
        "몇 가지 아이디어: 물 마시기, 산책하기, 친구에게 전화하기.",
        "예시 감사합니다! 계속 작성하길 원하시면 말씀해 주세요.",
    ),
    near_duplicate_prefixes=("", "", "간단히 ", "자세히 "),
    near_duplicate_suffixes=("", "", " 짧게 써 주세요.", " 구체적으로요."),
)

# ------------------------------------------------------------------------------------------------------------
# Filling patterns
# ------------------------------------------------------------------------------------------------------------

_SLOT = re.compile(r"\{(\w+)(?::(\w+))?\}")
_ALTERNATION = re.compile(r"\[([^\[\]]*)\]")  # "[a|b|]": one of the options, possibly nothing
_LOOSE_SPACE = re.compile(r" +( |,|\?|\.$)")
_PARTICLES = {
    "을": ("을", "를"),
    "이": ("이", "가"),
    "은": ("은", "는"),
    "과": ("과", "와"),
    "으로": ("으로", "로"),
}
_TITLE_SMALL_WORDS = {"a", "an", "and", "as", "at", "for", "in", "of", "on", "or", "the", "to", "with"}
# Slots a nested pattern shares with its parent, so a list item talks about the same topic as its instruction.
_SHARED_SLOTS = frozenset(
    {"topic", "topic2", "audience", "aspect", "setting", "constraint", "form", "cat1", "cat2"}
)


def _attach_particle(word: str, particle: str) -> str:
    with_final, without_final = _PARTICLES[particle]
    last = word.rstrip()[-1:]
    if "가" <= last <= "힣":
        final = (ord(last) - ord("가")) % 28
        if particle == "으로" and final == 8:  # a final ㄹ takes 로
            return word + without_final
        return word + (with_final if final else without_final)
    return word + with_final


def _inflect(value: str, modifier: str | None) -> str:
    if not modifier:
        return value
    if modifier == "cap":
        return value[:1].upper() + value[1:]
    if modifier == "title":
        words = value.split(" ")
        return " ".join(
            word
            if (index and word in _TITLE_SMALL_WORDS) or word[:1].isupper()
            else word[:1].upper() + word[1:]
            for index, word in enumerate(words)
        )
    return _attach_particle(value, modifier)


class _Slots(dict[str, str]):
    """Slot values for one record, drawn lazily so a record only pays for the slots its patterns name."""

    def __init__(self, rng: random.Random, book: Phrasebook, parent: _Slots | None = None) -> None:
        super().__init__()
        self.rng = rng
        self.book = book
        self.parent = parent
        # Draws are distinct per table across a record and its nested items (no list repeats an action).
        self.used: dict[str, set[str]] = parent.used if parent is not None else {}

    def __missing__(self, key: str) -> str:
        if self.parent is not None and key in _SHARED_SLOTS:
            value = self.parent[key]
        elif key in _COMPOSITES:
            _COMPOSITES[key](self)
            return dict.__getitem__(self, key)
        elif key == "audience" and self.rng.random() < self.book.composed_audience_share:
            value = f"{self.pick('descriptor')} {self.pick('role')}"
        else:
            value = self.pick(key.rstrip("0123456789"))
        self[key] = value
        return value

    def pick(self, table: str) -> str:
        options = self.book.tables.get(table) or self.book.patterns[table]
        used = self.used.setdefault(table, set())
        value = self.rng.choice(options)
        for _ in range(8):
            if value not in used:
                break
            value = self.rng.choice(options)
        used.add(value)
        return value

    def fill(self, pattern: str) -> str:
        pattern = _ALTERNATION.sub(lambda match: self.rng.choice(match.group(1).split("|")), pattern)
        text = _SLOT.sub(lambda match: _inflect(self[match.group(1)], match.group(2)), pattern)
        return _LOOSE_SPACE.sub(r"\1", text)

    def nested(self) -> _Slots:
        return _Slots(self.rng, self.book, parent=self)

    def fill_nested(self, pattern_table: str) -> str:
        """One sentence from ``pattern_table`` with fresh actions and reasons but the record's topic."""
        return self.nested().fill(self.rng.choice(self.book.patterns[pattern_table]))

    def numbered(self, pattern_table: str, count: int) -> str:
        """A numbered list that uses every pattern once before repeating any."""
        patterns = list(self.book.patterns[pattern_table])
        self.rng.shuffle(patterns)
        items = (self.nested().fill(patterns[index % len(patterns)]) for index in range(count))
        return "\n".join(f"{index}) {item}" for index, item in enumerate(items, 1))


def _either_or_both(slots: _Slots, first: str, second: str, joiner: str) -> str:
    """A phrase from either table or one from each: combining keeps exact repeats rare across records."""
    roll = slots.rng.random()
    if roll < 0.4:
        return slots.pick(first)
    if roll < 0.7:
        return slots.pick(second)
    return f"{slots.pick(first)}{joiner}{slots.pick(second)}"


def _setting(slots: _Slots) -> None:
    slots["setting"] = _either_or_both(slots, "when", "where", " ")


def _constraint(slots: _Slots) -> None:
    joiner = " " if slots.book.language == "ko" else ", "
    slots["constraint"] = _either_or_both(slots, "format", "style", joiner)


def _number(slots: _Slots) -> None:
    word, value = slots.rng.choice(slots.book.numbers)
    slots["num"], slots["num_value"] = word, str(value)


def _list_count(slots: _Slots) -> int:
    return int(slots["num_value"]) if "num" in slots else slots.rng.randint(3, 5)


def _prose(slots: _Slots) -> None:
    sentences = [slots.fill_nested("prose") for _ in range(slots.rng.randint(2, 4))]
    slots["prose"] = " ".join(sentences)
    slots["prose_points"] = "\n".join(f"{index}) {sentence}" for index, sentence in enumerate(sentences, 1))


def _prose_alt(slots: _Slots) -> None:
    """A second text on the same topic, for rewrites that must not echo their input."""
    slots["prose_alt"] = " ".join(slots.fill_nested("prose") for _ in range(slots.rng.randint(2, 3)))


def _tips(slots: _Slots) -> None:
    slots["tips"] = slots.numbered("tip", _list_count(slots))


def _question_list(slots: _Slots) -> None:
    slots["question_list"] = slots.numbered("question", _list_count(slots))


def _question_text(slots: _Slots) -> None:
    slots["question_text"] = slots.fill_nested("question")


def _quiz(slots: _Slots) -> None:
    slots["quiz"] = slots.numbered("quiz", _list_count(slots))


def _names(slots: _Slots) -> None:
    slots["names"] = slots.numbered("name", _list_count(slots))


def _facts(slots: _Slots) -> None:
    slots["facts"] = "\n".join(f"- {slots.fill_nested('fact')}" for _ in range(3))


def _claim(slots: _Slots) -> None:
    kind = slots.rng.choice(("fact", "opinion"))
    slots["claim"] = slots.fill_nested(f"{kind}_claim")
    slots["claim_label"] = slots.book.labels[kind]
    slots["claim_explanation"] = slots.book.labels[f"{kind}_explanation"]


def _opinion_claim(slots: _Slots) -> None:
    slots["opinion_claim"] = slots.fill_nested("opinion_claim")


def _review(slots: _Slots) -> None:
    kind = slots.rng.choice(("positive", "negative"))
    patterns = list(slots.book.patterns[f"review_{kind}"])
    slots.rng.shuffle(patterns)
    slots["review"] = " ".join(slots.fill(pattern) for pattern in patterns[:2])
    slots["review_label"] = slots.book.labels[kind]
    slots["review_reason"] = slots.book.labels[f"{kind}_reason"]


def _misspell(rng: random.Random, sentence: str) -> str:
    words = sentence.split(" ")
    candidates = [index for index, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    for index in rng.sample(candidates, min(2, len(candidates))):
        word = words[index]
        cut = rng.randint(1, len(word) - 3)
        words[index] = word[:cut] + word[cut + 1] + word[cut] + word[cut + 2 :]
    return " ".join(words)


def _squeeze_spaces(rng: random.Random, sentence: str) -> str:
    words = sentence.split(" ")
    if len(words) < 2:
        return sentence
    joins = set(rng.sample(range(1, len(words)), min(2, len(words) - 1)))
    return "".join(word if index == 0 or index in joins else " " + word for index, word in enumerate(words))


def _spelling(slots: _Slots) -> None:
    for _ in range(5):
        if slots.book.language == "ko":
            clean = slots.fill_nested("clean")
            noisy = _squeeze_spaces(slots.rng, clean)
        else:
            clean = slots.fill_nested("prose")
            noisy = _misspell(slots.rng, clean)
        if noisy != clean:
            break
    slots["clean_sentence"], slots["noisy_sentence"] = clean, noisy


def _meeting(slots: _Slots) -> None:
    people = [(slots.pick("name"), slots.pick("action")) for _ in range(3)]
    lines = [f"- {name}: {action}" for name, action in people]
    header = f"{slots['topic']}:" if slots.book.language == "ko" else f"Notes on {slots['topic']}:"
    slots["meeting_notes"] = "\n".join([header, *lines])
    item = slots.book.labels["action_item"]
    slots["action_items"] = "\n".join(
        f"{index}) " + item.format(name=name, action=action) for index, (name, action) in enumerate(people, 1)
    )


def _sort_items(slots: _Slots) -> None:
    first, first_items, second, second_items = slots.rng.choice(slots.book.categories)
    group1 = slots.rng.sample(first_items, 3)
    group2 = slots.rng.sample(second_items, 3)
    mixed = group1 + group2
    slots.rng.shuffle(mixed)
    separator = slots.book.item_separator
    slots["cat1"], slots["cat2"] = first, second
    slots["group1"], slots["group2"] = separator.join(group1), separator.join(group2)
    slots["items"] = separator.join(mixed)


def _arguments(slots: _Slots) -> None:
    strong = [slots.nested().fill(pattern) for pattern in slots.book.patterns["argument_strong"]]
    weak = slots.fill_nested("argument_weak")
    slots["arguments"] = " ".join([strong[0], weak, *strong[1:]])
    slots["weak_argument"] = weak


def _schedule(slots: _Slots) -> None:
    days = list(slots.book.tables["day"])
    chores = [slots.pick("chore") for _ in days]
    free_day = slots.rng.randrange(len(days))
    chores[free_day] = "free evening"
    slots["schedule"] = "\n".join(f"{day}: {chore}" for day, chore in zip(days, chores, strict=True))
    busy_day = (free_day + 1) % len(days)
    advice = [
        slots.book.labels["free_day_advice"].format(day=days[free_day], topic=slots["topic"]),
        slots.book.labels["schedule_tip"].format(chore=chores[busy_day], day=days[busy_day]),
        slots.fill_nested("tip"),
    ]
    slots["schedule_advice"] = "\n".join(f"{index}) {line}" for index, line in enumerate(advice, 1))


def _comments(slots: _Slots) -> None:
    kinds = ["helpful", "unhelpful", "helpful"]
    slots.rng.shuffle(kinds)
    slots["comments"] = "\n".join(f"- {slots.fill_nested(f'comment_{kind}')}" for kind in kinds)
    labels = slots.book.labels
    slots["comment_labels"] = "\n".join(f"{index}) {labels[kind]}" for index, kind in enumerate(kinds, 1))


def _advice(slots: _Slots) -> None:
    slots["advice"] = slots.fill_nested("advice")
    slots["score"] = str(slots.rng.randint(2, 4))
    slots["score_reason"] = slots.rng.choice(slots.book.patterns["score_reason"])


def _title(slots: _Slots) -> None:
    slots["title"] = slots.fill(slots.rng.choice(slots.book.patterns["title"]))


def _pick(slots: _Slots) -> None:
    slots["pick"] = str(slots.rng.randint(1, 3))


def _weeks(slots: _Slots) -> None:
    slots["weeks"] = str(slots.rng.randint(3, 16))


def _benefit(slots: _Slots) -> None:
    slots["benefit"] = slots.pick("benefit")


def _name_parts(slots: _Slots) -> None:
    for part in ("adjective", "noun", "group"):
        slots[part] = slots.pick(part)


_COMPOSITES: dict[str, Callable[[_Slots], None]] = {
    "setting": _setting,
    "constraint": _constraint,
    "num": _number,
    "num_value": _number,
    "prose": _prose,
    "prose_points": _prose,
    "prose_alt": _prose_alt,
    "tips": _tips,
    "question_list": _question_list,
    "question_text": _question_text,
    "quiz": _quiz,
    "names": _names,
    "facts": _facts,
    "claim": _claim,
    "claim_label": _claim,
    "claim_explanation": _claim,
    "opinion_claim": _opinion_claim,
    "review": _review,
    "review_label": _review,
    "review_reason": _review,
    "clean_sentence": _spelling,
    "noisy_sentence": _spelling,
    "meeting_notes": _meeting,
    "action_items": _meeting,
    "items": _sort_items,
    "cat1": _sort_items,
    "cat2": _sort_items,
    "group1": _sort_items,
    "group2": _sort_items,
    "arguments": _arguments,
    "weak_argument": _arguments,
    "schedule": _schedule,
    "schedule_advice": _schedule,
    "comments": _comments,
    "comment_labels": _comments,
    "advice": _advice,
    "score": _advice,
    "score_reason": _advice,
    "title": _title,
    "weeks": _weeks,
    "pick": _pick,
    "benefit": _benefit,
    "adjective": _name_parts,
    "noun": _name_parts,
    "group": _name_parts,
}

# ------------------------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    instruction: str
    input: str  # "" when the task takes no input
    output: str


def render_record(number: int, record: Record) -> str:
    return (
        f"{number}. Instruction: {record.instruction}\n"
        f"{number}. Input:\n{record.input or NO_INPUT}\n"
        f"{number}. Output:\n{record.output}\n###\n"
    )


def compose_record(rng: random.Random, book: Phrasebook, *, with_input: bool | None = None) -> Record:
    """One realistic record; the instruction has 6 to 30 words and starts with a letter."""
    if with_input is None:
        with_input = rng.random() < WITH_INPUT_SHARE
    templates = book.with_input_templates if with_input else book.no_input_templates
    for _ in range(100):
        pattern, kind = rng.choice(templates)
        slots = _Slots(rng, book)
        instruction = slots.fill(pattern)
        instruction = instruction[:1].upper() + instruction[1:]
        if MIN_INSTRUCTION_WORDS <= len(instruction.split()) <= MAX_INSTRUCTION_WORDS:
            break
    text_input = slots.fill(rng.choice(book.inputs[kind])) if with_input else ""
    return Record(instruction, text_input, slots.fill(rng.choice(book.outputs[kind])))


class RecordWriter:
    """Writes records whose instructions are unique over the writer's lifetime, unless told to repeat."""

    def __init__(self, *, duplicate_rate: float = 0.0) -> None:
        self.duplicate_rate = duplicate_rate
        self._lock = threading.Lock()
        self._issued: dict[str, list[str]] = {}
        self._issued_set: set[str] = set()

    def write(
        self,
        rng: random.Random,
        book: Phrasebook,
        count: int,
        *,
        mode: str = "ok",
        examples: Sequence[str] = (),
    ) -> list[Record]:
        """``mode``: "ok", "refusal" (outputs refuse) or "duplicates" (instructions repeat earlier ones)."""
        records: list[Record] = []
        with self._lock:
            for _ in range(count):
                if mode == "duplicates" or (self.duplicate_rate and rng.random() < self.duplicate_rate):
                    # Repeat a prompt example or an instruction served before (this reply's included).
                    issued = self._issued.get(book.language, [])
                    if examples or issued:
                        pick = rng.randrange(len(examples) + len(issued))
                        earlier = examples[pick] if pick < len(examples) else issued[pick - len(examples)]
                        records.append(self._near_duplicate(rng, book, earlier))
                        continue
                record = self._fresh(rng, book, examples)
                if mode == "refusal":
                    record = Record(record.instruction, record.input, rng.choice(book.refusals))
                records.append(record)
        return records

    def _fresh(self, rng: random.Random, book: Phrasebook, examples: Sequence[str]) -> Record:
        for _ in range(1000):
            record = compose_record(rng, book)
            if record.instruction not in self._issued_set and record.instruction not in examples:
                break
        self._issued_set.add(record.instruction)
        self._issued.setdefault(book.language, []).append(record.instruction)
        return record

    def _near_duplicate(self, rng: random.Random, book: Phrasebook, instruction: str) -> Record:
        prefix = rng.choice(book.near_duplicate_prefixes)
        suffix = rng.choice(book.near_duplicate_suffixes)
        if prefix and book.language == "en" and not instruction[1:2].isupper():
            instruction = instruction[:1].lower() + instruction[1:]
        body = compose_record(rng, book, with_input=False)
        return Record(f"{prefix}{instruction}{suffix}", "", body.output)


# ------------------------------------------------------------------------------------------------------------
# Answering questions and judging answers (Pasture's evaluations)
# ------------------------------------------------------------------------------------------------------------

_CONVERSATION = re.compile(r'<conversation(?: assistant="([^"]*)")?>\n(.*?)\n</conversation>', re.DOTALL)
_ASSISTANT_TURN = re.compile(
    r"^\[Assistant[^\]\n]*\]\n(.*?)(?=^\[User[^\]\n]*\]\n|\Z)", re.DOTALL | re.MULTILINE
)
_PAIRWISE_POLICIES = frozenset({"first", "second", "longer", "tie", "garbage"})
_GRADER_POLICIES = frozenset({"length", "garbage"})
_UNPARSABLE_VERDICT = "Both answers have their merits, and I cannot decide between them."


@dataclass(frozen=True)
class JudgeRequest:
    """A judge prompt as the fake read it. ``kind`` is "pairwise" (``first`` and ``second`` are the answers
    shown as A and B) or "single" (``first`` is the graded answer, ``second`` is empty)."""

    kind: str
    model: str
    first: str
    second: str
    prompt: str


@dataclass(frozen=True)
class AnswerRequest:
    """A question for an assistant: the model asked and the chat transcript, ``(role, text)`` in order."""

    model: str
    messages: tuple[tuple[str, str], ...]
    prompt: str

    @property
    def question(self) -> str:
        """The last user message."""
        users = [text for role, text in self.messages if role == "user"]
        return users[-1] if users else self.prompt


JudgePolicy = str | Callable[[JudgeRequest], str]
GraderPolicy = int | float | str | Callable[[JudgeRequest], str]


def _assistant_text(conversation: str) -> str:
    """The assistant's replies in one conversation block, joined (the user's turns left out)."""
    replies = [match.group(1).strip() for match in _ASSISTANT_TURN.finditer(conversation)]
    return "\n\n".join(replies) if replies else conversation.strip()


def read_judge_prompt(prompt: str, model: str = DEFAULT_MODEL) -> JudgeRequest | None:
    """The answers a Pasture judge prompt shows, or None when the prompt is not one."""
    blocks = {label or "": body for label, body in _CONVERSATION.findall(prompt)}
    if "A" in blocks and "B" in blocks:
        return JudgeRequest(
            "pairwise", model, _assistant_text(blocks["A"]), _assistant_text(blocks["B"]), prompt
        )
    if "" in blocks:
        return JudgeRequest("single", model, _assistant_text(blocks[""]), "", prompt)
    return None


def check_judge_policy(policy: JudgePolicy) -> JudgePolicy:
    if not callable(policy) and policy not in _PAIRWISE_POLICIES:
        raise ValueError(
            f"unknown judge policy {policy!r}; expected one of {sorted(_PAIRWISE_POLICIES)} or a callable"
        )
    return policy


def check_grader_policy(policy: GraderPolicy) -> GraderPolicy:
    if isinstance(policy, bool):
        raise ValueError("a grader policy is a score from 1 to 10, 'length', 'garbage' or a callable")
    if isinstance(policy, int | float):
        if not 1 <= policy <= 10:
            raise ValueError(f"a fixed grade must be from 1 to 10, got {policy!r}")
    elif not callable(policy) and policy not in _GRADER_POLICIES:
        raise ValueError(
            f"unknown grader policy {policy!r}; expected a score, {sorted(_GRADER_POLICIES)} or a callable"
        )
    return policy


def pairwise_verdict(policy: JudgePolicy, request: JudgeRequest) -> str:
    """The whole judge reply: a short comparison, then the verdict on its own line."""
    if callable(policy):
        return policy(request)
    if policy == "garbage":
        return _UNPARSABLE_VERDICT
    length_a, length_b = len(request.first), len(request.second)
    if policy == "first":
        verdict = "A"
    elif policy == "second":
        verdict = "B"
    elif policy == "longer":
        verdict = "A" if length_a > length_b else "B" if length_b > length_a else "C"
    else:
        verdict = "C"
    return (
        f"Assistant A wrote {length_a} characters and assistant B wrote {length_b}. "
        "Both address the request; I weighed correctness, helpfulness and clarity.\n\n"
        f"[[{verdict}]]"
    )


def single_grade(policy: GraderPolicy, request: JudgeRequest) -> str:
    if callable(policy):
        return policy(request)
    if policy == "garbage":
        return "The answer is fine in places and weak in others."
    score = min(10, 1 + len(request.first) // 80) if policy == "length" else policy
    shown = int(score) if float(score).is_integer() else score
    return f"The answer has {len(request.first)} characters and addresses the request.\n\nRating: [[{shown}]]"


def assistant_answer(rng: random.Random, book: Phrasebook, request: AnswerRequest) -> str:
    """A plausible answer of a few sentences, different for each model and question."""
    sentences = [compose_record(rng, book).output for _ in range(rng.randint(1, 3))]
    return " ".join(sentence.strip() for sentence in sentences if sentence.strip())


# ------------------------------------------------------------------------------------------------------------
# Behaviours
# ------------------------------------------------------------------------------------------------------------

_BEHAVIOURS = frozenset(
    {
        "ok",
        "429",
        "500",
        "503",
        "400",
        "401",
        "slow",
        "refusal",
        "garbage",
        "truncate",
        "duplicates",
        "hangup",
    }
)
_ERROR_BEHAVIOURS = frozenset({"429", "500", "503", "400", "401"})
_DEFAULT_RETRY_AFTER = 1.0


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one generation request, parsed from text such as ``"429:0.2"`` or ``"slow:1"``."""

    name: str
    seconds: float | None = None
    text: str = ""  # as written, for the ledger

    @classmethod
    def parse(cls, text: str) -> Behaviour:
        name, _, argument = text.strip().partition(":")
        if name not in _BEHAVIOURS:
            raise ValueError(f"unknown behaviour {text!r}; expected one of {sorted(_BEHAVIOURS)}")
        if name == "slow" and not argument:
            raise ValueError("'slow' needs a duration, e.g. 'slow:1.5'")
        if argument and name not in {"slow", "429"}:
            raise ValueError(f"behaviour {name!r} takes no argument (got {text!r})")
        seconds: float | None = None
        if argument:
            try:
                seconds = float(argument)
            except ValueError:
                raise ValueError(f"{text!r}: {argument!r} is not a number of seconds") from None
            if seconds < 0:
                raise ValueError(f"{text!r}: seconds must not be negative")
        elif name == "429":
            seconds = _DEFAULT_RETRY_AFTER
        return cls(name, seconds, text.strip())


def _error_body(
    message: str, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


@dataclass
class _Reply:
    status: int | None  # None: close the connection without answering
    payload: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class _RequestError(Exception):
    """A request the real API would reject; carries the OpenAI-shaped reply."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        error_type = "invalid_request_error"
        self.reply = _Reply(status, _error_body(message, error_type, code, param))


def _scripted_error(behaviour: Behaviour, model: str) -> _Reply:
    if behaviour.name == "429":
        seconds = behaviour.seconds if behaviour.seconds is not None else _DEFAULT_RETRY_AFTER
        message = (
            f"Rate limit reached for {model} in organization org-pasture on requests per min (RPM): "
            f"Limit 60, Used 60, Requested 1. Please try again in {seconds:g}s."
        )
        return _Reply(
            429,
            _error_body(message, "requests", "rate_limit_exceeded"),
            {"Retry-After": f"{seconds:g}", "retry-after-ms": str(round(seconds * 1000))},
        )
    if behaviour.name == "500":
        message = "The server had an error while processing your request. Sorry about that!"
        return _Reply(500, _error_body(message, "server_error"))
    if behaviour.name == "503":
        return _Reply(
            503, _error_body("The engine is currently overloaded, please try again later.", "server_error")
        )
    if behaviour.name == "401":
        return _unauthorized("Incorrect API key provided.")
    message = (
        "This model's maximum context length is 4096 tokens. However, your messages resulted in 5120 tokens. "
        "Please reduce the length of the messages."
    )
    return _Reply(400, _error_body(message, "invalid_request_error", "context_length_exceeded", "messages"))


def _unauthorized(message: str) -> _Reply:
    return _Reply(401, _error_body(message, "invalid_request_error", "invalid_api_key"))


# ------------------------------------------------------------------------------------------------------------
# Request validation
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GenerationRequest:
    model: str
    prompts: tuple[str, ...]  # one per choice group: the chat transcript, or each completions prompt
    n: int
    max_tokens: int | None
    stop: tuple[str, ...]
    messages: tuple[tuple[str, str], ...] = ()  # chat only: (role, text) in order


def _optional_number(body: Mapping[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _RequestError(
            400, f"{value!r} is not valid for '{name}': expected a number from {low} to {high}.", param=name
        )


def _positive_int(
    body: Mapping[str, Any], name: str, default: int | None, high: int | None = None
) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < 1
        or (high is not None and value > high)
    ):
        limit = f" no larger than {high}" if high is not None else ""
        raise _RequestError(
            400, f"{value!r} is not valid for '{name}': expected a positive integer{limit}.", param=name
        )
    return value


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise _RequestError(
        400, "Each message needs 'content' as a string or a list of text parts.", param="messages"
    )


def _parse_generation(path: str, body: Any) -> _GenerationRequest:
    if not isinstance(body, dict):
        raise _RequestError(400, "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _RequestError(400, "You must provide a model parameter.", param="model")
    if body.get("stream"):
        raise _RequestError(400, "Streaming is not supported by Pasture's fake teacher.", param="stream")
    _optional_number(body, "temperature", 0, 2)
    _optional_number(body, "top_p", 0, 1)
    if path == CHAT_PATH:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise _RequestError(
                400, "'messages' must be a non-empty list of message objects.", param="messages"
            )
        transcript = tuple((str(m.get("role", "user")), _message_text(m.get("content"))) for m in messages)
        prompts: tuple[str, ...] = ("\n\n".join(text for _, text in transcript),)
        max_tokens = _positive_int(body, "max_completion_tokens", None) or _positive_int(
            body, "max_tokens", None
        )
    else:
        transcript = ()
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            prompts = (prompt,)
        elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
            prompts = tuple(prompt)
        else:
            raise _RequestError(
                400, "'prompt' must be a string or a non-empty list of strings.", param="prompt"
            )
        max_tokens = _positive_int(body, "max_tokens", None)
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise _RequestError(400, "'stop' must be a string or a list of up to 4 strings.", param="stop")
    n = _positive_int(body, "n", 1, high=16)
    assert n is not None
    return _GenerationRequest(model, prompts, n, max_tokens, tuple(s for s in stops if s), transcript)


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cuts = [index for stop in stops if (index := text.find(stop)) >= 0]
    return text[: min(cuts)] if cuts else text


# ------------------------------------------------------------------------------------------------------------
# The server
# ------------------------------------------------------------------------------------------------------------


def _parse_call_id(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class FakeTeacher:
    """An OpenAI-compatible teacher on 127.0.0.1 with scripted faults, latency and a billing ledger.

    Only generation requests (``POST /v1/chat/completions`` and ``POST /v1/completions``) consume scripted
    behaviours, count in ``requests`` and ``max_concurrent``, and appear in the ledger; ``GET /v1/models`` and
    the ``/_ledger`` and ``/_script`` control endpoints do not. Latency models generation time, so it delays
    replies that carry text (status 200) and not error replies.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: tuple[str, ...] = (DEFAULT_MODEL,),
        seed: int = 0,
        latency: float | tuple[float, float] = 0.0,
        duplicate_rate: float = 0.0,
        ratelimit_headers: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        judge: JudgePolicy = "longer",
        grader: GraderPolicy = "length",
        answer: Callable[[AnswerRequest], str] | None = None,
    ) -> None:
        low, high = (latency, latency) if isinstance(latency, int | float) else latency
        if not 0 <= low <= high:
            raise ValueError(
                f"latency must be seconds >= 0 or a (low, high) range with low <= high, got {latency!r}"
            )
        if not 0 <= duplicate_rate <= 1:
            raise ValueError(f"duplicate_rate must be between 0 and 1, got {duplicate_rate!r}")
        if not models:
            raise ValueError("models must name at least one model")
        self.api_key = api_key
        self.models = tuple(models)
        self.seed = seed
        self.latency = (float(low), float(high))
        self.ratelimit_headers = dict(ratelimit_headers or {})
        self.host = host
        self.port = port  # the bound port once started
        self._requested_port = port
        self._writer = RecordWriter(duplicate_rate=duplicate_rate)
        self.judge = check_judge_policy(judge)
        self.grader = check_grader_policy(grader)
        self.answer = answer
        self._lock = threading.Lock()
        self._script: deque[Behaviour] = deque()
        self._default = Behaviour.parse("ok")
        self._ledger: list[dict[str, Any]] = []
        self._requests = 0
        self._billed_prompt_tokens = 0
        self._billed_completion_tokens = 0
        self._in_flight = 0
        self._max_concurrent = 0
        self._stopping = threading.Event()
        self._server: _TeacherServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> FakeTeacher:
        if self._server is not None:
            raise RuntimeError("this FakeTeacher is already running")
        self._stopping.clear()
        self._server = _TeacherServer((self.host, self._requested_port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-teacher",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping on latency or "slow"
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeTeacher:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the FakeTeacher before asking for its base_url")
        host = "127.0.0.1" if self.host in {"", "0.0.0.0"} else self.host
        return f"http://{host}:{self.port}/v1"

    # -- faults ---------------------------------------------------------------------------------------------

    def script(self, *behaviours: str) -> None:
        """Queue behaviours for the next generation requests, one per request, in arrival order."""
        parsed = [Behaviour.parse(text) for text in behaviours]
        with self._lock:
            self._script.extend(parsed)

    def set_default(self, behaviour: str) -> None:
        """The behaviour for requests that find the script queue empty ("ok" unless changed)."""
        parsed = Behaviour.parse(behaviour)
        with self._lock:
            self._default = parsed

    def set_judge(self, policy: JudgePolicy) -> None:
        """How pairwise judge prompts are answered: "first", "second", "longer", "tie", "garbage" (no
        readable verdict) or a callable that takes a :class:`JudgeRequest` and returns the whole reply."""
        self.judge = check_judge_policy(policy)

    def set_grader(self, policy: GraderPolicy) -> None:
        """How single-answer grading prompts are answered: a fixed score from 1 to 10, "length" (one point
        per 80 characters, at least 1 and at most 10), "garbage" or a callable returning the whole reply."""
        self.grader = check_grader_policy(policy)

    # -- accounting -----------------------------------------------------------------------------------------

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def billed_prompt_tokens(self) -> int:
        with self._lock:
            return self._billed_prompt_tokens

    @property
    def billed_completion_tokens(self) -> int:
        with self._lock:
            return self._billed_completion_tokens

    @property
    def max_concurrent(self) -> int:
        with self._lock:
            return self._max_concurrent

    def ledger(self) -> list[dict[str, Any]]:
        """One entry per generation request, in the order the replies were decided."""
        with self._lock:
            return [dict(entry) for entry in self._ledger]

    def ledger_summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "billed_prompt_tokens": self._billed_prompt_tokens,
                "billed_completion_tokens": self._billed_completion_tokens,
                "max_concurrent": self._max_concurrent,
                "entries": [dict(entry) for entry in self._ledger],
            }

    # -- request handling (called from the HTTP handler's threads) -------------------------------------------

    def _authorized(self, authorization: str | None) -> _Reply | None:
        if self.api_key is None:
            return None
        if not authorization:
            return _unauthorized(
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            shown = key.strip()[:3] + "***" if key.strip() else "(empty)"
            return _unauthorized(f"Incorrect API key provided: {shown}.")
        return None

    def _models_reply(self, path: str, authorization: str | None) -> _Reply:
        if (denied := self._authorized(authorization)) is not None:
            return denied
        listing = [
            {"id": model, "object": "model", "created": 0, "owned_by": "pasture"} for model in self.models
        ]
        if path == "/v1/models":
            return _Reply(200, {"object": "list", "data": listing})
        wanted = path.removeprefix("/v1/models/")
        for entry in listing:
            if entry["id"] == wanted:
                return _Reply(200, entry)
        return _model_not_found(wanted)

    def _generation_reply(
        self, path: str, call_id: str | None, authorization: str | None, raw_body: bytes
    ) -> _Reply:
        with self._lock:
            self._requests += 1
            sequence = self._requests
            behaviour = self._script.popleft() if self._script else self._default
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
        entry: dict[str, Any] = {
            "call_id": _parse_call_id(call_id),
            "status": None,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "endpoint": path,
            "model": None,
            "behaviour": behaviour.text,
            "finish_reason": None,
            "ts": time.time(),
        }
        try:
            reply = self._answer(sequence, behaviour, path, authorization, raw_body, entry)
        except Exception:  # a bug in the fake must surface as a 500 with a traceback, not a silent hangup
            traceback.print_exc()
            reply = _Reply(500, _error_body("The fake teacher failed to answer.", "server_error"))
            entry["prompt_tokens"] = entry["completion_tokens"] = 0
        try:
            return reply
        finally:
            entry["status"] = reply.status
            with self._lock:
                self._in_flight -= 1
                self._ledger.append(entry)
                if reply.status == 200:
                    self._billed_prompt_tokens += entry["prompt_tokens"]
                    self._billed_completion_tokens += entry["completion_tokens"]

    def _answer(
        self,
        sequence: int,
        behaviour: Behaviour,
        path: str,
        authorization: str | None,
        raw_body: bytes,
        entry: dict[str, Any],
    ) -> _Reply:
        try:
            body = json.loads(raw_body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
            unparsable = True
        else:
            unparsable = False
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            entry["model"] = body["model"]
        if behaviour.name == "hangup":
            return _Reply(None)
        if (denied := self._authorized(authorization)) is not None:
            return denied
        if unparsable:
            return _RequestError(400, "We could not parse the JSON body of your request.").reply
        if behaviour.name in _ERROR_BEHAVIOURS:
            return _scripted_error(behaviour, entry["model"] or self.models[0])
        try:
            request = _parse_generation(path, body)
        except _RequestError as error:
            return error.reply
        if request.model not in self.models:
            return _model_not_found(request.model)

        rng = random.Random(f"{self.seed}:{sequence}")
        delay = rng.uniform(*self.latency) + (
            behaviour.seconds if behaviour.name == "slow" and behaviour.seconds else 0
        )
        if delay > 0:
            self._stopping.wait(delay)

        chat = path == CHAT_PATH
        choices: list[dict[str, Any]] = []
        prompt_tokens = sum(count_tokens(prompt) for prompt in request.prompts)
        completion_tokens = 0
        finish_reasons: list[str] = []
        for prompt in request.prompts:
            view = read_prompt(prompt)
            for _ in range(request.n):
                text, finish_reason = self._reply(rng, prompt, view, behaviour, chat, request)
                completion_tokens += count_tokens(text)
                finish_reasons.append(finish_reason)
                index = len(choices)
                if chat:
                    message = {"role": "assistant", "content": text, "refusal": None}
                    choices.append(
                        {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}
                    )
                else:
                    choices.append(
                        {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}
                    )
        entry["prompt_tokens"], entry["completion_tokens"] = prompt_tokens, completion_tokens
        entry["finish_reason"] = "length" if "length" in finish_reasons else "stop"
        payload: dict[str, Any] = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-pasture{sequence:08d}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_pasture_fake",
        }
        return _Reply(200, payload, {"openai-processing-ms": str(round(delay * 1000))})

    def _reply(
        self,
        rng: random.Random,
        prompt: str,
        view: PromptView,
        behaviour: Behaviour,
        chat: bool,
        request: _GenerationRequest,
    ) -> tuple[str, str]:
        """Records for a record prompt, a verdict for a judge prompt, an answer for anything else."""
        if _INSTRUCTION_LINE.search(prompt):
            return self._continue(rng, prompt, view, behaviour, chat, request)
        book = KOREAN if _HANGUL.search(prompt) else ENGLISH
        if behaviour.name == "garbage":
            text = rng.choice(book.garbage)
        elif (judging := read_judge_prompt(prompt, request.model)) is not None:
            if judging.kind == "pairwise":
                text = pairwise_verdict(self.judge, judging)
            else:
                text = single_grade(self.grader, judging)
        else:
            asked = AnswerRequest(request.model, request.messages or (("user", prompt),), prompt)
            if self.answer is not None:
                text = self.answer(asked)
            else:
                seeded = random.Random(f"{self.seed}:{request.model}:{prompt}")
                text = assistant_answer(seeded, KOREAN if _HANGUL.search(asked.question) else ENGLISH, asked)
        text = _cut_at_stop(text, request.stop)
        if request.max_tokens is not None and count_tokens(text) > request.max_tokens:
            return truncate_to_tokens(text, request.max_tokens), "length"
        return text, "stop"

    def _continue(
        self,
        rng: random.Random,
        prompt: str,
        view: PromptView,
        behaviour: Behaviour,
        chat: bool,
        request: _GenerationRequest,
    ) -> tuple[str, str]:
        """The reply text for one choice and its finish_reason."""
        book = KOREAN if view.korean else ENGLISH
        # A completion that continues "N. Instruction:" starts with a space unless the prompt ended with one.
        lead = "" if chat or not view.ends_at_instruction or prompt[-1:].isspace() else " "
        if behaviour.name == "garbage":
            text = lead + rng.choice(book.garbage)
            cut_by_fault = False
        else:
            mode = behaviour.name if behaviour.name in {"refusal", "duplicates"} else "ok"
            records = self._writer.write(rng, book, view.to_write, mode=mode, examples=view.examples)
            rendered = [
                render_record(view.next_number + offset, record) for offset, record in enumerate(records)
            ]
            if not chat and view.ends_at_instruction:
                # The prompt ends with "N. Instruction:", so the reply carries on from that line.
                rendered[0] = lead + rendered[0].removeprefix(f"{view.next_number}. Instruction: ")
            if chat and rng.random() < CHAT_PREAMBLE_SHARE:
                rendered.insert(0, rng.choice(book.preambles))
            text = "".join(rendered)
            cut_by_fault = behaviour.name == "truncate"
            if cut_by_fault:
                last = rendered[-1]
                start = len(text) - len(last)
                cut = start + int(len(last) * rng.uniform(0.3, 0.8))
                boundary = text.rfind(" ", start, cut)
                text = text[: boundary if boundary > start else cut]
        text = _cut_at_stop(text, request.stop)
        if request.max_tokens is not None and count_tokens(text) > request.max_tokens:
            return truncate_to_tokens(text, request.max_tokens), "length"
        return text, "length" if cut_by_fault else "stop"

    def _scripts_reply(self, raw_body: bytes) -> _Reply:
        try:
            body = json.loads(raw_body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            behaviours = body.get("behaviours", [])
            if not isinstance(behaviours, list) or not all(isinstance(b, str) for b in behaviours):
                raise ValueError("'behaviours' must be a list of strings")
            default = body.get("default")
            if default is not None and not isinstance(default, str):
                raise ValueError("'default' must be a string")
            self.script(*behaviours)
            if default is not None:
                self.set_default(default)
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            return _RequestError(400, str(error)).reply
        with self._lock:
            return _Reply(200, {"queued": [b.text for b in self._script], "default": self._default.text})


def _model_not_found(model: str) -> _Reply:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return _Reply(404, _error_body(message, "invalid_request_error", "model_not_found"))


class _TeacherServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benchmarks open many connections at once; the default backlog of 5 stalls them

    def __init__(self, address: tuple[str, int], teacher: FakeTeacher) -> None:
        self.teacher = teacher
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _TeacherHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on machines without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Drop kept-alive client connections so a stopped teacher answers nothing more."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away (timeouts, hangups); nothing to report
        super().handle_error(request, client_address)


class _TeacherHandler(BaseHTTPRequestHandler):
    server: _TeacherServer
    protocol_version = "HTTP/1.1"
    server_version = "PastureFakeTeacher/1.0"
    timeout = 120  # idle kept-alive connections are closed after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test and benchmark output clean

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        teacher = self.server.teacher
        if path == "/v1/models" or path.startswith("/v1/models/"):
            self._send(teacher._models_reply(path, self.headers.get("Authorization")))
        elif path == "/_ledger":
            self._send(_Reply(200, teacher.ledger_summary()))
        else:
            self._send(_unknown_url("GET", path))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        raw_body = self._read_body()
        teacher = self.server.teacher
        if path in {CHAT_PATH, COMPLETIONS_PATH}:
            call_id, authorization = self.headers.get("X-Pasture-Call-Id"), self.headers.get("Authorization")
            self._send(teacher._generation_reply(path, call_id, authorization, raw_body))
        elif path == "/_script":
            self._send(teacher._scripts_reply(raw_body))
        else:
            self._send(_unknown_url("POST", path))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in {b"\r\n", b"\n", b""}:
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: _Reply) -> None:
        if reply.status is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-request-id", f"req_pasture_{time.monotonic_ns():x}")
            for name, value in {**self.server.teacher.ratelimit_headers, **reply.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client gave up (e.g. its timeout passed while we slept)


def _unknown_url(method: str, path: str) -> _Reply:
    return _Reply(404, _error_body(f"Invalid URL ({method} {path})", "invalid_request_error"))


# ------------------------------------------------------------------------------------------------------------
# Standalone process
# ------------------------------------------------------------------------------------------------------------


def _parse_latency(text: str) -> float | tuple[float, float]:
    low, separator, high = text.partition("-")
    try:
        return (float(low), float(high)) if separator else float(low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SECONDS or LOW-HIGH, got {text!r}") from None


def _parse_header(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_teacher",
        description="Serve Pasture's fake OpenAI-compatible teacher until SIGTERM or SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (the default)")
    parser.add_argument("--latency", type=_parse_latency, default=0.0, help="seconds, or a LOW-HIGH range")
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    parser.add_argument("--model", action="append", default=None, help="a served model; repeat for more")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duplicate-rate", type=float, default=0.0)
    parser.add_argument("--default", default="ok", help="behaviour when no fault is scripted, e.g. ok or 500")
    parser.add_argument(
        "--ratelimit-header", type=_parse_header, action="append", default=[], metavar="NAME=VALUE",
        help="a header sent with every reply, e.g. x-ratelimit-remaining-requests=99",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        teacher = FakeTeacher(
            api_key=args.api_key,
            models=tuple(args.model or (DEFAULT_MODEL,)),
            seed=args.seed,
            latency=args.latency,
            duplicate_rate=args.duplicate_rate,
            ratelimit_headers=dict(args.ratelimit_header),
            host=args.host,
            port=args.port,
        )
        teacher.set_default(args.default)
    except ValueError as error:
        parser.error(str(error))

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with teacher:
        print(f"FAKE_TEACHER_URL={teacher.base_url}", flush=True)
        while not stopping.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
