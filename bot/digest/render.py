"""From a compiled week to what people read: the template values, then Telegram text and HTML.

`digest_values` turns the week's tables into plain data (lists and dicts of text and numbers),
the same for every language; the templates in prompts/<lang>/digest/ do all the wording.
The shared digest gets only agreed, trio-owned work and counted themes; the researcher
digest adds participation, drafts, questions, quiet trios, stalled cycles and charts.
"""

from __future__ import annotations

import base64
from collections import namedtuple
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from bot.digest import charts
from bot.digest.compile import Compiled, monday_of
from bot.digest.exports import pseudonym
from bot.digest.message import digest_message
from bot.digest.research import (
    ACTION_STATUSES,
    rate,
    researcher_values,
    trend_weeks,
    trio_label,
)
from bot.digest.themes import recurring
from bot.texts import Label, Texts
from storage.digest_sources import ARENAS

Audience = Literal["schools", "researchers"]
AUDIENCES: tuple[Audience, ...] = ("schools", "researchers")
SHOWN_PER_TRIO = 8  # reflections quoted per trio in the researcher digest; the rest: exports


@dataclass(frozen=True, slots=True)
class Rendered:
    week: str
    audience: Audience
    lang: str
    message: list[str]  # Telegram HTML, each part within the limit
    html: bytes
    filename: str
    charts: dict[str, bytes]


def _tags(text: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {k: v for k, v in pairs}


PRIVATE_KINDS = ("reflection", "meeting_reflection")  # never in the shared digest's words


def _values(column: pd.Series) -> list[Any]:
    """A column's values as they are (NaN where missing, as iterating the Series gives):
    pandas iterates a text column's StringArray one __getitem__ at a time."""
    return list(column.to_numpy(dtype=object))


def _rows(table: pd.DataFrame) -> Iterator[Any]:
    """`table.itertuples(index=False)`, column by column: the same named rows, in a
    third of the time for a week's 6,000 contributions."""
    row = namedtuple("Contribution", list(table.columns))  # type: ignore[misc]
    return map(row._make, zip(*(_values(table[c]) for c in table.columns), strict=True))


@dataclass(frozen=True, slots=True)
class Owner:
    """The person an action is given to, as the digest may show them: `name` as they go by
    now (None once erased or never named), `research` whether their research consent is
    current (only then does their pseudonym appear in a research output)."""

    name: str | None
    research: bool


def _action(row: Any, key: bytes, researchers: bool, owners: Mapping[int, Owner]) -> dict[str, Any]:
    """An action with its owner, due date and status (tags: owner_id, due, status).

    The shared digest names the owner as the agreed summary does (the trio chose to share
    it); the researcher digest gives the owner's pseudonym, as everywhere in research data,
    and only while their research consent is current. Otherwise: "someone in the trio".
    An empty owner_id: the whole trio; "withheld" (bot/digest/consent.py): someone in the
    trio; no owner_id tag at all (a week archived before actions
    carried one): nothing said about the owner.
    """
    tags = _tags(str(row.tags))
    owner_id = tags.get("owner_id", "")
    owner: str | None = None
    if owner_id.isdigit():
        known = owners.get(int(owner_id))
        if researchers:
            owner = pseudonym(key, int(owner_id)) if known and known.research else None
        else:
            owner = known.name if known else None
    status = tags.get("status", "")
    return {
        "text": str(row.text or ""),
        "owner": owner,
        "whole_trio": "owner_id" in tags and not owner_id,
        "owner_unknown": (owner_id.isdigit() and owner is None) or owner_id == "withheld",
        "due": tags.get("due") or None,
        "status": status if status in ACTION_STATUSES else None,
    }


def digest_values(
    compiled: Compiled,
    contributions: pd.DataFrame,
    key: bytes,
    audience: Audience,
    *,
    partial_to: Mapping[str, Any] | None = None,
    owners: Mapping[int, Owner] | None = None,
) -> dict[str, Any]:
    """Everything the templates show, as plain data. `partial_to` (a `moment`, see
    bot/scheduling/notices.py) marks a week not yet over: the digest is the week so far."""
    researchers = audience == "researchers"
    owners = owners or {}
    monday = monday_of(compiled.week)
    by_trio = compiled.figure("by_trio")
    trio_names = dict(zip(by_trio["trio"], by_trio["trio_name"], strict=True))
    schools = compiled.figure("schools")
    school_names = dict(zip(schools["school"], schools["school_name"], strict=True))
    trio_work = contributions[~contributions["kind"].isin(PRIVATE_KINDS)]
    reflections = contributions[contributions["kind"] == "reflection"]
    after_meetings = contributions[contributions["kind"] == "meeting_reflection"]

    # One pass over the rows (in trio order), not a filter per trio and kind.
    source = contributions if researchers else trio_work
    by_ref: dict[str, dict[str, Any]] = {}
    slots = {
        "focus": "focus",
        "evidence": "evidence",
        "other": "other",
        "question": "questions",
    }
    for row in _rows(source.sort_values("trio", kind="stable")):
        trio = row.trio
        if not isinstance(trio, str):
            continue  # a person whose school is in no trio: counted, and in the exports
        section = by_ref.get(trio)
        if section is None:
            section = by_ref[trio] = {
                **trio_label(trio, row.trio_name),
                "anchor": f"trio-{trio}",
                "focus": [],
                "tried": [],
                "evidence": [],
                "actions": [],
                "accounts": [],
                "questions": [],
                "other": [],
                "reflections": [],
                "reflections_more": 0,
                "after_meetings": [],
                "after_meetings_more": 0,
            }
        kind, text = str(row.kind), str(row.text or "")
        if kind in slots and text and (kind != "question" or researchers):
            section[slots[kind]].append(text)
        elif kind == "shared" and text:
            school = row.school if isinstance(row.school, str) else None
            section["tried"].append(
                {"text": text, "school": school_names.get(school, school) if school else None}
            )
        elif kind == "action" and text:
            section["actions"].append(_action(row, key, researchers, owners))
        elif kind == "lesson_study":
            section["accounts"].append(
                {"focus": _tags(str(row.tags)).get("focus", ""), "text": text}
            )
        elif kind in PRIVATE_KINDS and researchers:
            slot = "reflections" if kind == "reflection" else "after_meetings"
            if len(section[slot]) < SHOWN_PER_TRIO:
                tags = _tags(str(row.tags))
                voice = tags.get("voice")
                section[slot].append(
                    {
                        "person": pseudonym(key, int(str(row.person_id))),
                        "text": text,
                        "voice": int(voice) if voice else None,
                        "prompt": tags.get("prompt", ""),
                    }
                )
            else:
                section[f"{slot}_more"] += 1
    sections = list(by_ref.values())
    anchors = {s["anchor"] for s in sections}

    # Counted phrases: from the reflections too, but never from what was said after a meeting
    # (private to the trio) in the shared digest.
    source_words = (
        contributions
        if researchers
        else contributions[contributions["kind"] != "meeting_reflection"]
    )
    themes = [
        {
            "phrase": t.phrase,
            "count": t.count,
            "trios": [
                {
                    **trio_label(r, trio_names.get(r)),
                    "anchor": f"trio-{r}" if f"trio-{r}" in anchors else None,
                }
                for r in t.trios
            ],
        }
        for t in recurring(
            zip(_values(source_words["trio"]), _values(source_words["text"]), strict=True)
        )
    ]
    barriers = trio_work[trio_work["kind"] == "barrier"]
    arenas = barriers["tags"].map(lambda t: _tags(t).get("arena", ""))
    by_arena = {
        arena: [
            {"text": str(x), "trio": str(t), **trio_label(str(t), trio_names.get(t))}
            for x, t in zip(
                barriers.loc[arenas == arena, "text"],
                barriers.loc[arenas == arena, "trio"],
                strict=True,
            )
        ]
        for arena in ARENAS
    }

    delivered, answered = int(by_trio["delivered"].sum()), int(by_trio["answered"].sum())
    summaries = trio_work["tags"].map(lambda t: _tags(t).get("summary")).dropna().nunique()
    values: dict[str, Any] = {
        "audience": audience,
        "week": compiled.week,
        "partial_to": None if partial_to is None else dict(partial_to),
        "week_from": monday.isoformat(),
        "week_to": (monday + pd.Timedelta(days=6)).isoformat(),
        "totals": {
            "trios": len(by_trio),
            "trios_with_news": len(sections),
            "people": int(by_trio["members"].sum()),
            "reflections": len(reflections),
            "after_meetings": len(after_meetings) if researchers else 0,
            "voice_notes": int(reflections["tags"].str.contains("voice=").sum()),
            "summaries": int(summaries),
            "accounts": int((trio_work["kind"] == "lesson_study").sum()),
            "actions": int((trio_work["kind"] == "action").sum()),
            "barriers": len(barriers),
            "delivered": delivered,
            "answered": answered,
            "response_rate": rate(answered, delivered),
            "meetings_scheduled": int(by_trio["meetings_scheduled"].sum()),
            "meetings_held": int(by_trio["meetings_held"].sum()),
        },
        "trios": sections,
        "themes": themes,
        "barriers": by_arena,
        "barrier_counts": {a: len(v) for a, v in by_arena.items()},
    }
    if researchers:
        values.update(researcher_values(compiled, trio_work))
        values["actions_list"] = [
            {**trio_label(s["ref"], s["name"]), "anchor": s["anchor"], **a}
            for status in (*ACTION_STATUSES, None)
            for s in sections
            for a in s["actions"]
            if a["status"] == status
        ]
    return values


def chart_images(
    values: dict[str, Any], compiled: Compiled, texts: Texts, lang: str
) -> dict[str, bytes]:
    """PNG charts for the researcher digest (both languages' labels come from labels.j2)."""
    arena_names = [texts.label(lang, Label(f"digest_arena_{a}")) for a in ARENAS]
    counts = [values["barrier_counts"][a] for a in ARENAS]
    images = {"barriers": charts.barriers_by_arena(counts, arena_names)}
    if trend_weeks(compiled) >= charts.TREND_MIN_WEEKS:  # two weeks would be two dots
        images["response_rate"] = charts.response_rate_by_la(
            compiled.figure("trend_la"), ylabel=texts.label(lang, Label("digest_response_rate"))
        )
    return images


def render(
    compiled: Compiled,
    contributions: pd.DataFrame,
    key: bytes,
    audience: Audience,
    lang: str,
    texts: Texts,
    *,
    partial_to: Mapping[str, Any] | None = None,
    owners: Mapping[int, Owner] | None = None,
    partnership: Mapping[str, Any] | None = None,
) -> Rendered:
    """The Telegram message (split to fit) and the self-contained HTML file; `partnership`,
    the questions and answers of bot/digest/questions.py, read live, never archived."""
    values = digest_values(
        compiled, contributions, key, audience, partial_to=partial_to, owners=owners
    )
    values["partnership"] = dict(partnership or {})
    images = chart_images(values, compiled, texts, lang) if audience == "researchers" else {}
    values["trend_weeks"] = trend_weeks(compiled)
    values["trend_min_weeks"] = charts.TREND_MIN_WEEKS
    values["charts"] = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in images.items()
    }
    message = digest_message(values, texts, lang)
    page = texts.render(lang, "digest/page.html", {"digest": values}, labels=False)  # plain data
    filename = f"triobot-digest-{compiled.week}-{audience}-{lang}.html"
    return Rendered(
        compiled.week,
        audience,
        lang,
        message,
        page.encode("utf-8"),
        filename,
        images,
    )
