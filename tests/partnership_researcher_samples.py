"""What the researcher side's templates (prompts/<lang>/partnership/{researcher,answer,comment,
question}_*.j2 and refused/{answer,comment}_refused.j2) read, with awkward values, for
tests/test_templates.py."""

from __future__ import annotations

from typing import Any

LONG = "Ünïcode & <angle> “quotes” " * 3
VOICE = {"voice": "AwACAgQAAx", "duration": 42}

RESEARCHER_SIDE: dict[str, Any] = {
    "qs": {
        "items": [
            {"number": 6, "trio": LONG, "ref": "T003", "show_ref": True, "on": "2026-11-30",
             "body": LONG * 6, "focus": LONG, "from": "summary"},
            {"number": 7, "trio": LONG, "ref": "T003", "show_ref": False, "on": "2026-12-01",
             "body": VOICE, "focus": VOICE, "from": "summary"},
            {"number": 8, "trio": LONG, "ref": "T004", "show_ref": True, "on": "2026-12-01",
             "body": LONG, "focus": LONG, "from": "account"},
        ],
        "page": 1,
        "scope": LONG,
        "answered": 3,
        "more": True,
        "given": LONG,
        "trios": [f"{LONG} (T003)", "North (T004)"],
        "authorities": [LONG, "Oldham"],
    },
    "q": {
        "question_id": 12, "trio": LONG, "ref": "T003", "question": VOICE, "focus": LONG,
        "on": "2026-11-30", "from": "account", "author": LONG, "why": "answered",
        "others": [{"by": LONG, "body": LONG}, {"by": "Eve", "body": VOICE}], "to": LONG,
        "body": LONG, "by": LONG,
    },
    "sent": {"trio": LONG, "author": LONG, "kind": "answer", "body": VOICE, "question": LONG,
             "about": LONG},
    "sent_to": {"trio": LONG, "members": 3, "group": True, "kind": "answer"},
    "work": {"kind": "account", "trio": LONG, "on": "2026-11-30", "focus": LONG,
             "account": {"learned": LONG, "changed": VOICE, "advice": LONG}},
    "share": True,
    "why": "answered",
    "yours": LONG,
    "others": [{"by": LONG, "body": LONG}],
}  # fmt: skip
