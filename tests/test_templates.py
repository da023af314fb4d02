"""Every template renders in every language, fits Telegram, and is valid Telegram HTML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.standin.html import check_telegram_html, visible_length
from bot.texts import (
    LANGUAGES,
    LEAD_COMMANDS,
    MENU,
    TELEGRAM_LIMIT,
    Label,
    Texts,
    pick_language,
    prompts_root,
    split_message,
)
from tests.partnership_researcher_samples import RESEARCHER_SIDE

TEXTS = Texts()
GLUED = re.compile(r"[0-9.!?:)][A-ZÁÉÍÓÚ¿¡][a-záéíóú]")


def check_plain(text: str) -> str:
    """The text without its tags (a tag may sit between two sentences)."""
    return re.sub(r"<[^>]+>", " ", text)


ROOT = prompts_root()
TEMPLATES = sorted(
    str(path.relative_to(ROOT / "en"))[: -len(".j2")]
    for path in (ROOT / "en").rglob("*.j2")
    if path.name != "labels.j2"
)
# HTML documents (the digest file), not Telegram messages: tested on their own below.
DOCUMENTS = [name for name in TEMPLATES if name.endswith(".html")]
TEMPLATES = [name for name in TEMPLATES if name not in DOCUMENTS]
LONG = "Ünïcode & <angle> “quotes” " * 3

# A lesson's time as lesson-study templates get it (shown to others, so with its zone).
LESSON_WHEN = {"wd": 3, "d": 3, "m": 12, "y": 2026, "hm": "10:15", "zone": "America/Sao_Paulo"}

# The shared digest's answers from the researchers (bot/digest/questions.py).
PARTNERSHIP_SHARED = [
    {"ref": "T-<1>", "name": LONG, "aside": "T-<1>", "question": {"text": LONG, "voice": None},
     "answer": {"text": "", "voice": 40}, "by": LONG},
    {"ref": "T2", "name": "B & C", "aside": None, "question": {"text": "", "voice": 9},
     "answer": {"text": LONG, "voice": None}, "by": None},
]  # fmt: skip

# One context holding every variable any template reads, with awkward values.
SAMPLE: dict[str, Any] = {
    "answers": {
        "name": LONG,
        "consent": "yes",
        "what": "name",
        "date": "2026-12-07",
        "time": "16:00",
    },
    "ctx": {"trio": LONG, "school": LONG, "role": "trio_lead", "person": {}},
    "current": None,
    "again": True,
    "step_number": 2,
    "title": Label("flow_onboarding"),
    "wanted": Label("flow_settings"),
    "command": "/start",
    "per_minute": 30,
    "held": {
        "name": LONG,
        "roles": ["teacher", "trio_lead"],
        "school": LONG,
        "trios": [LONG, "B & C"],
        "language": "pt",
        "time_zone": "Europe/Lisbon",
        "quiet_hours": "21:00–07:00",
        "reminder_time": "15:45",
        "telegram_id": 123456789,
        "consent_given": True,
        "consent_version": "2026-1",
        "consent_at": "2026-11-23 09:00 UTC",
        "flows": 3,
    },
    "kind": "sticker",
    "voice": True,
    "min": 1,
    "max": 2000,
    "length": 10_000,
    "parts": 2,
    "answered": 3,
    "given": "<b>Mars/Base",
    "version": "2026-1",
    "problem": "expired",
    "joined": {"role": "teacher", "trio": LONG, "school": LONG},
    "name": LONG,
    "runner": LONG,
    "writer": LONG,
    "lead_name": LONG,
    "roles": ["teacher", "trio_lead", "researcher", "coordinator"],
    "commands": [*MENU, *LEAD_COMMANDS],
    "person": {
        "name": LONG,
        "language": "es",
        "time_zone": "Europe/Madrid",
        "quiet_hours": "20:00–07:00",
        "reminder_time": "16:00",
    },
    "what": Label("setting_time_zone"),
    "school_names": [LONG, "Castle Primary", "Northfield Primary"],  # a barrier's school
    # Administration: refusals, /status, /invite.
    "action": "status.programme",
    "counts": {
        "schools": 1100,
        "local_authorities": 10,
        "trios": 370,
        "joined": 9000,
        "joining": 12,
        "invited": 988,
        "failed": 3,
    },
    "quiet_weeks": "3",
    "quiet": [
        {"name": LONG, "ref": "T-<1>", "members": 3, "last": "2026-10-01"},
        {"name": "B & C", "ref": "T2", "members": 0, "last": None},
    ]
    * 15,
    "quiet_more": 340,
    "trio": LONG,
    "members": [
        {"name": LONG, "school": LONG, "status": "active", "lead": True},
        {"name": "—", "school": None, "status": "invited", "lead": False},
    ],
    "upcoming": [
        {
            "when": {"wd": 1, "d": 1, "m": 12, "y": 2026, "hm": "16:00", "zone": "UTC"},
            "kind": "meeting_reminder_day",
            "who": LONG,
        },
        {
            "when": {"wd": 2, "d": 2, "m": 12, "y": 2026, "hm": "09:00", "zone": "UTC"},
            "kind": "something_new",
            "who": None,
        },
    ],
    "bot_username": "triobot_test_bot",
    "responses": [{"period": "2026-W48", "asked": 3, "answered": 2, "percent": 67}],
    "code": "ABCDEFGH2345",
    "link": "https://t.me/triobot_test_bot?start=ABCDEFGH2345",
    "question": "<b>This week</b> what did you try? & why",
    # Meetings and summaries.
    "when": {"wd": 1, "d": 1, "m": 12, "y": 2026, "hm": "16:00", "zone": "Europe/London"},
    "change": "invite",
    "which": "day",
    # Worded for the moment of delivery: relative day, the reminders that will go, a clash.
    "reminders": ("day", "hour"),
    "reminder": "15:45",
    "quiet_start": "15:00",
    "quiet_end": "09:00",
    "reminder_moved": None,
    "day": "today",  # a reminder worded for the day it arrives
    "on": "2027-11-30",  # a stored date answer, as ISO text
    "zone": "Europe/Lisbon",
    "focus": LONG,
    "lead": True,
    "meetings": [
        {
            "trio": LONG,
            "focus": LONG,
            "link": None,
            "when": {"wd": 6, "d": 31, "m": 12, "y": 2026, "hm": "09:30", "zone": "Europe/Madrid"},
        },
        {
            "trio": "B & C",
            "focus": "x",
            "link": "https://a.example/?b=<c>",
            "when": {"wd": 0, "d": 1, "m": 1, "y": 2027, "hm": "16:00", "zone": "UTC"},
        },
    ],
    "actions": [
        {"what": LONG, "owner": LONG, "due": "2026-12-15", "status": "open"},
        {
            "what": {"voice": "f", "duration": 12},
            "owner": None,
            "due": "2027-01-10",
            "status": "in_progress",
        },
    ],
    "refs": ["T1", "T<2>"],
    "school": LONG,
    "number": 1,
    "total": 3,
    "prev": {"what": LONG, "owner": None, "due": "2026-12-01", "status": "open"},
    "revised": False,
    "mine": False,
    "revision": 1,
    "shared": [
        {"school": LONG, "body": LONG},
        {"school": "B", "body": {"voice": "f", "duration": 3}},
    ],
    "evidence": [LONG],
    "barriers": [{"body": LONG, "level": "within"}, {"body": "x", "level": "beyond"}],
    "no_actions": False,
    "questions": [LONG],
    "other": [],
    # The partnership loop's trio side (bot/meetings/researcher_answers.py).
    "replies": [
        {"id": 1, "kind": "answer", "body": LONG, "on": LONG, "author": LONG},
        {
            "id": 2,
            "kind": "answer",
            "body": {"voice": "f", "duration": 40},
            "on": "x",
            "author": None,
        },
        {
            "id": 3,
            "kind": "comment",
            "body": LONG,
            "on": {"voice": "f", "duration": 9},
            "author": "A & B",
        },
    ],
    "replies_more": 4,
    "researcher_reply": {"id": 1, "kind": "comment", "body": LONG, "on": LONG, "author": None},
    "comment": LONG,
    "how": "all",
    "approved": 2,
    "waiting": [LONG],
    "past_deadline": True,
    "status": "draft",
    "task": LONG,
    "due": "2026-12-15",
    "user_id": 123,
    "buttons": False,
    "can_skip": True,
    "can_back": True,
    # Digests (bot/digest/render.py digest_values; headlines: bot/digest/message.py).
    "headlines": [
        {"name": LONG, "focus": LONG, "tried": LONG, "school": LONG},
        {"name": "B & C", "focus": "", "tried": "x", "school": ""},
    ],
    "week": "2026-W47",
    "exports": False,
    # /digest <week> (bot/digest/asked.py): the week said back, the weeks there are.
    "guessed": True,
    "weeks": {"first": "2026-W02", "latest": "2026-W48", "current": "2026-W49"},
    "digest": {
        "audience": "researchers",
        # The partnership loop (bot/digest/questions.py).
        "partnership": {
            "open": [
                {
                    "ref": "T-<1>",
                    "name": LONG,
                    "aside": "T-<1>",
                    "age": 12,
                    "withheld": False,
                    "text": LONG,
                    "voice": None,
                },
                {
                    "ref": "T2",
                    "name": "B & C",
                    "aside": None,
                    "age": 1,
                    "withheld": True,
                    "text": "",
                    "voice": None,
                },
                {
                    "ref": "T2",
                    "name": "B & C",
                    "aside": None,
                    "age": 0,
                    "withheld": False,
                    "text": "",
                    "voice": 40,
                },
            ],
            "open_more": 7,
            "totals": {"open": 10, "answered_week": 2, "median_days": 4.5},
            "by_trio": [
                {
                    "trio": "T-<1>",
                    "ref": "T-<1>",
                    "name": LONG,
                    "aside": "T-<1>",
                    "trio_name": LONG,
                    "open": 3,
                    "answered_week": 1,
                    "median_days": None,
                },
            ],
            "by_la": [
                {
                    "local_authority": LONG,
                    "trio_name": LONG,
                    "open": 3,
                    "answered_week": 1,
                    "median_days": 2.0,
                },
            ],
        },
        "week": "2026-W47",
        "partial_to": {"wd": 3, "d": 19, "m": 11, "y": 2026, "hm": "14:05", "zone": "UTC"},
        "week_from": "2026-11-16",
        "week_to": "2026-11-22",
        "totals": {
            "trios": 370,
            "trios_with_news": 12,
            "people": 9000,
            "reflections": 4000,
            "after_meetings": 7,
            "voice_notes": 30,
            "summaries": 40,
            "accounts": 2,
            "actions": 80,
            "barriers": 33,
            "delivered": 9000,
            "answered": 4000,
            "response_rate": "44%",
            "meetings_scheduled": 50,
            "meetings_held": 41,
        },
        "trios": [
            {
                "ref": "T-<1>",
                "name": LONG,
                "aside": "T-<1>",
                "anchor": "trio-T-<1>",
                "focus": [LONG],
                "tried": [{"text": LONG, "school": LONG}, {"text": LONG, "school": None}],
                "evidence": [LONG],
                "actions": [
                    {
                        "text": LONG,
                        "owner": LONG,
                        "whole_trio": False,
                        "owner_unknown": False,
                        "due": "2026-12-15",
                        "status": "in_progress",
                    },
                    {
                        "text": LONG,
                        "owner": None,
                        "whole_trio": True,
                        "owner_unknown": False,
                        "due": None,
                        "status": None,
                    },
                ],
                "questions": [LONG],
                "other": [],
                "accounts": [{"focus": LONG, "text": LONG}],
                "reflections": [
                    {"person": "P-0123456789ab", "text": LONG, "voice": None},
                    {"person": "P-ba9876543210", "text": "", "voice": 34},
                ],
                "reflections_more": 5,
                "after_meetings": [
                    {
                        "person": "P-0123456789ab",
                        "text": LONG,
                        "voice": None,
                        "prompt": "take_back",
                    },
                    {"person": "P-0123456789ab", "text": "", "voice": 12, "prompt": "surprise"},
                ],
                "after_meetings_more": 1,
            }
        ],
        "themes": [
            {
                "phrase": LONG,
                "count": 3,
                "trios": [
                    {"ref": "T-<1>", "name": LONG, "anchor": "trio-T-<1>"},
                    {"ref": "T2", "name": "B & C", "anchor": None},
                ],
            }
        ]
        * 12,
        "barriers": {
            "within": [{"text": LONG, "trio": "T-<1>", "ref": "T-<1>", "name": LONG}],
            "between": [],
            "beyond": [],
        },
        "barrier_counts": {"within": 1, "between": 0, "beyond": 0},
        "participation_trios": [
            {
                "ref": "T-<1>",
                "name": LONG,
                "aside": "T-<1>",
                "members": 3,
                "delivered": 3,
                "answered": 2,
                "rate": "67%",
                "trend": "▁▃█",
                "meetings_held": 1,
                "meetings_scheduled": 1,
            }
        ],
        "participation_las": [
            {
                "name": LONG,
                "people": 900,
                "delivered": 900,
                "answered": 0,
                "rate": None,
                "trend": "··",
                "meetings_held": 0,
                "meetings_scheduled": 0,
            }
        ],
        "drafts": [{"trio": "T2", "trio_name": LONG, "since": "2026-11-02"}],
        "questions": [{"trio": "T-<1>", "text": LONG}],
        "quiet": [
            {"trio": "T3", "trio_name": LONG, "last": ""},
            {"trio": "T4", "trio_name": "B & C", "last": "2026-10-01"},
        ],
        "stalled": [{"trio": "T5", "trio_name": LONG, "stage": "plan", "since": "2026-10-01"}],
        "actions_status": [{"trio": "T5", "status": "open", "count": 2}],
        "actions_list": [
            {
                "ref": "T-<1>",
                "name": LONG,
                "aside": None,
                "anchor": "trio-T-<1>",
                "text": LONG,
                "owner": "P-0123456789ab",
                "whole_trio": False,
                "owner_unknown": False,
                "due": "2026-12-15",
                "status": "done",
            },
            {
                "ref": "T2",
                "name": "T2",
                "aside": None,
                "anchor": "trio-T2",
                "text": LONG,
                "owner": None,
                "whole_trio": False,
                "owner_unknown": True,
                "due": None,
                "status": None,
            },
        ],
        "actions_by_trio": [
            {
                "ref": "T5",
                "name": LONG,
                "aside": "T5",
                "counts": {"open": 2, "in_progress": 0, "done": 1, "dropped": 0},
            },
        ],
        "trend_weeks": 2,
        "trend_min_weeks": 3,
        "charts": {"response_rate": "data:image/png;base64,AAAA", "barriers": "data:,"},
    },
    # Lesson study.
    "position": 2,
    "typed": "Maria <Silva>",
    "pseudonym": "Pupil <B>",
    "suggestion": "Pupil B",
    "moment": LONG,
    "moment_number": 1,
    "pupil": "Pupil <A>",
    "typical_of": LONG,
    "round": 2,
    "rounds": 3,
    "pupils": [["Pupil <A>", LONG], ["P2", "B & C"]],
    "carried": [LONG, "Pairs & talk"],
    "previous": [LONG, "Plenary"],
    "comparison": [
        {
            "pupil": "Pupil <A>",
            "typical_of": LONG,
            "moments": [
                {"moment": LONG, "predicted": LONG, "observed": [["Bruno", LONG]]},
                {"moment": "Plenary", "predicted": None, "observed": []},
            ],
            "other": [["Carmen", {"voice": "f", "duration": 12}]],
            "said": [["Bruno", LONG]],
        }
    ],
    "teacher": LONG,
    "last": False,
    "focus_what": LONG,
    "focus_who": "pupils new to English & <others>",
    "suggestions": [["Carmen", LONG]],
    "history": [{"round": 1, "teacher": LONG, "changes": [LONG, "B & C"]}],
    "starter": LONG,
    "by": LONG,
    "said": LONG,
    "ideas": {"voice": "f", "duration": 30},
    "changed": False,
    "moments": [LONG, "Plenary"],
    "outline": LONG,
    "predictions": [{"pupil": "Pupil <A>", "moment": LONG, "text": LONG}],
    "soon": True,
    "stage": "observe",
    "days": 15,
    "author": LONG,
    "account": {"learned": LONG, "changed": {"voice": "f", "duration": 3}, "advice": LONG},
    "changes": [LONG],
    "subject": "Maths & <science>",
    "class_group": "Year 5",
    "stalled": True,
    "since": "03 Dec",
    "lessons": [
        {"round": 1, "teacher": LONG, "when": LESSON_WHEN, "status": "discussed"},
        {"round": 2, "teacher": None, "when": None, "status": "planning"},
    ],
    "my_role": "observer",
    "cycles": [],
    "stalled_cycles": [{"trio": LONG, "stage": "plan", "round": 2, "since": "03 Dec"}] * 30,
    "more": 12,
}
SAMPLE.update(RESEARCHER_SIDE)  # the partnership loop's researcher side
# Lesson study names some values as meetings do, with other shapes: its templates get these.
LESSON_STUDY: dict[str, Any] = {
    "when": LESSON_WHEN,
    "revision": 2,
    "mine": False,
    "waiting": [LONG, "Carmen"],
}
SAMPLE["cycles"] = [
    {
        key: SAMPLE[key]
        for key in (
            "trio",
            "focus_what",
            "focus_who",
            "stage",
            "round",
            "rounds",
            "since",
            "stalled",
            "waiting",
        )
    }
]
VARIANTS: list[dict[str, Any]] = [
    {},
    # The researcher digest with too few weeks for a trend chart.
    {"digest": {**SAMPLE["digest"], "charts": {"barriers": "data:,"}}},
    {"problem": None, "held": {**SAMPLE["held"], "consent_given": False}},
    {"problem": "used_up", "answers": {"consent": "no", "what": "name"}, "roles": ["teacher"]},
    {"problem": "unknown", "answers": {"consent": "withdraw"}, "ctx": {"role": "researcher"}},
    {"problem": "revoked", "held": {}, "person": {}, "ctx": {"role": "coordinator"}},
    {
        "action": "invite.create",
        "quiet": [],
        "quiet_more": 0,
        "members": [],
        "upcoming": [],
        "counts": {**SAMPLE["counts"], "failed": 0},
        "answers": {"consent": "erase", "confirm_erase": "erase", "trio": "T1"},
        "ctx": {**SAMPLE["ctx"], "trios": [["T1", LONG]], "trio_schools": {"T1": [["S1", LONG]]}},
    },
    {
        "action": "settings",
        "answers": {"consent": "download"},
        "ctx": {**SAMPLE["ctx"], "trios": [], "lead_only": True},
    },
    {"answers": {"consent": "erase", "confirm_erase": "keep"}},
    {
        "change": "moved",
        "which": "hour",
        "day": "tomorrow",
        "reminders": ("hour",),
        "reminder_moved": "09:00",
        "lead": False,
        "meetings": [],
        "actions": [],
        "link": None,
        "revised": True,
        "mine": True,
        "shared": [],
        "evidence": [],
        "barriers": [],
        "no_actions": True,
        "questions": [],
        "other": [LONG],
        "how": "lead",
        "status": "agreed",
        "waiting": [],
        "past_deadline": False,
        "buttons": True,
        "can_skip": False,
        "can_back": False,
        "number": 2,
        "ctx": {
            "trio": LONG,
            "zone": "Europe/Lisbon",
            "role": "teacher",
            "school": LONG,
            "planned_focus": LONG,
            "old": {"wd": 2, "d": 3, "m": 12, "y": 2026, "hm": "16:00", "zone": "Europe/Lisbon"},
            "prev_actions": [
                [1, LONG, None, "2026-12-01", "open"],
                [2, "x", LONG, "2026-12-02", "done"],
            ],
        },
        "answers": {"date": "2026-12-01", "time": "16:00", "focus": LONG, "link": None},
    },
    {
        "change": "cancelled",
        "focus": {"voice": "f", "duration": 9},
        "day": "later",
        "reminders": (),
    },
    {
        "exports": True,
        "guessed": False,
        "weeks": {"first": "2026-W49", "latest": None, "current": "2026-W49"},
        "digest": {
            **SAMPLE["digest"],
            "partial_to": None,
            "audience": "schools",
            "themes": [],
            "charts": {},
            "partnership": {"shared": PARTNERSHIP_SHARED},
            "totals": {**SAMPLE["digest"]["totals"], "response_rate": None},
        },
        "person": {**SAMPLE["person"], "digest": True},
        "current": {"learned": LONG, "changed": "x", "advice": None},
        "last": True,
        "carried": [],
        "previous": [],
        "pupils": [],
        "comparison": [],
        "teacher": None,
        "changed": True,
        "soon": False,
        "mine": True,
        "revision": 1,
        "stalled": False,
        "waiting": [],
        "lessons": [],
        "cycles": [],
        "my_role": "teacher",
        "predictions": [],
        "ideas": None,
        "stage": "agreement",
    },
]


def test_every_language_has_every_template() -> None:
    for lang in LANGUAGES:
        missing = [name for name in TEMPLATES if not TEXTS.exists(lang, name)]
        assert not missing, f"{lang} lacks {missing}"
        assert (ROOT / lang / "labels.j2").is_file()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", TEMPLATES)
def test_template_renders_valid_telegram_html(lang: str, name: str) -> None:
    own = LESSON_STUDY if name.startswith("lesson_study/") else {}
    for variant in VARIANTS:
        text = TEXTS.render(lang, name, {**SAMPLE, **own, **variant})
        assert text.strip(), f"{lang}/{name} rendered empty"
        assert check_telegram_html(text) is None, (lang, name, check_telegram_html(text), text)
        assert visible_length(text) <= TELEGRAM_LIMIT
        assert "<angle>" not in text  # values are escaped
        # A line break eaten by trim_blocks glues two sentences: "…Dec 2026What time…".
        assert not GLUED.search(check_plain(text)), (lang, name, GLUED.search(text), text)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", DOCUMENTS)
def test_html_documents_render_as_well_formed_html(lang: str, name: str) -> None:
    for variant in VARIANTS:
        text = TEXTS.render(lang, name, {**SAMPLE, **variant})
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
        assert "<angle>" not in text and "&lt;angle&gt;" in text  # values are escaped
        _balanced(text)


def _balanced(text: str) -> None:
    """Every element that needs closing is closed, in order."""
    from html.parser import HTMLParser

    void = {"meta", "img", "br", "link", "hr", "input"}
    stack: list[str] = []

    class Checker(HTMLParser):
        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag not in void:
                stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert stack and stack.pop() == tag, (tag, stack[-3:])

    Checker().feed(text)
    assert not stack, stack


def _macro_names(lang: str) -> list[str]:
    source = (ROOT / lang / "labels.j2").read_text(encoding="utf-8")
    return re.findall(r"{%-?\s*macro\s+(\w+)\(", source)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_labels_exist_in_every_language_and_fit_buttons(lang: str) -> None:
    assert sorted(_macro_names(lang)) == sorted(_macro_names("en"))
    params = {
        "label": Label(text="Red & blue"),
        "name": "Ana",
        "seconds": 12,
        "min": 2,
        "max": 3,
        "kind": "photo",
        "school": "Northfield & Southgate Primary",
        "body": "Whole-class feedback & sheets instead of written comments",
        "part": "who",
        "mark": "removed",
        "code": "pt",
        "when": "Tue 09:00",
        "moment": {"wd": 6, "d": 31, "m": 12, "y": 2026, "hm": "23:59", "zone": "UTC"},
        "number": 12,
        "trio": "Oldham–Stockport & Wigan trio",
        "status": "in_progress",
        "level": "between",
        "round": 2,
        "time": "09:00",
        "day": "2027-11-30",
        "value": "2026-12-03",
        "at": "16:00",
        "zone": "Europe/Lisbon",
    }
    for key in _macro_names(lang):
        macro = TEXTS._macro(lang, key)
        wanted = {arg: params[arg] for arg in macro.arguments}
        if key == "role":
            wanted = {"name": "trio_lead"}
        text = TEXTS.label(lang, Label(key, wanted))
        assert text.strip(), (lang, key)
        assert len(text) <= 200, (lang, key)
        assert "&amp;" not in text and "<" not in text, (lang, key, text)


def test_language_choice() -> None:
    assert pick_language("pt", "es") == "pt"
    assert pick_language(None, "es-ES") == "es"
    assert pick_language(None, "de") == "en"
    assert pick_language(None, None) == "en"


def test_long_messages_split_within_the_limit_and_stay_valid() -> None:
    paragraph = "<b>Trio</b> " + "word & more " * 60
    text = "\n\n".join([paragraph] * 40)
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= TELEGRAM_LIMIT and check_telegram_html(part) is None
    giant = "x&y " * 5000
    for part in split_message(giant):
        assert len(part) <= TELEGRAM_LIMIT and check_telegram_html(part) is None


def test_templates_are_found_in_the_package() -> None:
    assert Path(ROOT, "en", "help.j2").is_file()
