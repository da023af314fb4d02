"""From a compiled week to what people read: the template values, then Telegram text and HTML.

`digest_values` turns the week's tables into plain data (lists and dicts of text and numbers),
the same for every language; the templates in prompts/<lang>/digest/ do all the wording.
The shared digest gets only agreed, trio-owned work and counted themes; the researcher
digest adds participation, drafts, questions, quiet trios, stalled cycles and charts.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from bot.digest import charts
from bot.digest.compile import Compiled, monday_of
from bot.digest.exports import pseudonym
from bot.digest.message import digest_message
from bot.digest.themes import recurring
from bot.texts import Label, Texts
from storage.digest_sources import ARENAS

Audience = Literal["schools", "researchers"]
AUDIENCES: tuple[Audience, ...] = ("schools", "researchers")
SHOWN_PER_TRIO = 8  # reflections quoted per trio in the researcher digest; the rest: exports
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Rendered:
    week: str
    audience: Audience
    lang: str
    message: list[str]  # Telegram HTML, each part within the limit
    html: bytes
    filename: str
    charts: dict[str, bytes]


def rate(answered: int, delivered: int) -> str | None:
    return f"{round(100 * answered / delivered)}%" if delivered else None


def sparkline(rates: list[float | None]) -> str:
    return "".join("·" if r is None else SPARK[min(7, int(r * 8))] for r in rates)


def _tags(text: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {k: v for k, v in pairs}


def digest_values(
    compiled: Compiled,
    contributions: pd.DataFrame,
    key: bytes,
    audience: Audience,
    *,
    partial_to: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the templates show, as plain data. `partial_to` (a `moment`, see
    bot/scheduling/notices.py) marks a week not yet over: the digest is the week so far."""
    researchers = audience == "researchers"
    monday = monday_of(compiled.week)
    by_trio = compiled.figure("by_trio")
    trio_names = dict(zip(by_trio["trio"], by_trio["trio_name"], strict=True))
    trio_work = contributions[contributions["kind"] != "reflection"]
    reflections = contributions[contributions["kind"] == "reflection"]

    # One pass over the rows (in trio order), not a filter per trio and kind.
    source = contributions if researchers else trio_work
    by_ref: dict[str, dict[str, Any]] = {}
    slots = {
        "focus": "focus",
        "shared": "tried",
        "evidence": "evidence",
        "action": "actions",
        "other": "other",
        "question": "questions",
    }
    for row in source.sort_values("trio", kind="stable").itertuples(index=False):
        trio = row.trio
        if not isinstance(trio, str):
            continue  # a person whose school is in no trio: counted, and in the exports
        section = by_ref.get(trio)
        if section is None:
            section = by_ref[trio] = {
                "ref": trio,
                "name": str(row.trio_name or trio),
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
            }
        kind, text = str(row.kind), str(row.text or "")
        if kind in slots and text and (kind != "question" or researchers):
            section[slots[kind]].append(text)
        elif kind == "lesson_study":
            section["accounts"].append(
                {"focus": _tags(str(row.tags)).get("focus", ""), "text": text}
            )
        elif kind == "reflection" and researchers:
            if len(section["reflections"]) < SHOWN_PER_TRIO:
                voice = _tags(str(row.tags)).get("voice")
                section["reflections"].append(
                    {
                        "person": pseudonym(key, int(str(row.person_id))),
                        "text": text,
                        "voice": int(voice) if voice else None,
                    }
                )
            else:
                section["reflections_more"] += 1
    sections = list(by_ref.values())
    anchors = {s["ref"] for s in sections}

    themes = [
        {
            "phrase": t.phrase,
            "count": t.count,
            "trios": [
                {
                    "ref": r,
                    "name": trio_names.get(r, r),
                    "anchor": f"trio-{r}" if r in anchors else None,
                }
                for r in t.trios
            ],
        }
        for t in recurring(zip(contributions["trio"], contributions["text"], strict=True))
    ]
    barriers = trio_work[trio_work["kind"] == "barrier"]
    arenas = barriers["tags"].map(lambda t: _tags(t).get("arena", ""))
    by_arena = {
        arena: [
            {"text": str(x), "trio": str(t)}
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
        values.update(_researcher_values(compiled, trio_work))
    return values


def _trend_rates(trend: pd.DataFrame, by: str) -> dict[str, list[float | None]]:
    if trend.empty:
        return {}
    rates: dict[str, list[float | None]] = {}
    for name, group in trend.sort_values("week").groupby(by, sort=False):
        rates[str(name)] = [
            (a / d) if d else None
            for a, d in zip(group["answered"], group["delivered"], strict=True)
        ]
    return rates


def _rows(table: pd.DataFrame, by: str, trends: dict[str, list[float | None]]) -> list[Any]:
    rows = []
    for record in table.to_dict("records"):
        name = str(record[by])
        rows.append(
            {
                **{k: (int(v) if isinstance(v, int | float) else v) for k, v in record.items()},
                "name": str(record.get("trio_name") or name),
                "ref": name,
                "rate": rate(int(record["answered"]), int(record["delivered"])),
                "trend": sparkline(trends.get(name, [])),
            }
        )
    return rows


def _researcher_values(compiled: Compiled, trio_work: pd.DataFrame) -> dict[str, Any]:
    questions = trio_work[trio_work["kind"] == "question"]
    by_trio = compiled.figure("by_trio").sort_values("trio")
    return {
        "participation_trios": _rows(
            by_trio, "trio", _trend_rates(compiled.figure("trend_trio"), "trio")
        ),
        "participation_las": _rows(
            compiled.figure("by_la"),
            "local_authority",
            _trend_rates(compiled.figure("trend_la"), "local_authority"),
        ),
        "drafts": compiled.figure("drafts").to_dict("records"),
        "questions": [
            {"trio": str(t), "text": str(x)}
            for t, x in zip(questions["trio"], questions["text"], strict=True)
        ],
        "quiet": compiled.figure("quiet").fillna("").to_dict("records"),
        "stalled": compiled.figure("stalled").to_dict("records"),
        "actions_status": compiled.figure("actions").to_dict("records"),
    }


def chart_images(
    values: dict[str, Any], compiled: Compiled, texts: Texts, lang: str
) -> dict[str, bytes]:
    """PNG charts for the researcher digest (both languages' labels come from labels.j2)."""
    arena_names = [texts.label(lang, Label(f"digest_arena_{a}")) for a in ARENAS]
    counts = [values["barrier_counts"][a] for a in ARENAS]
    return {
        "response_rate": charts.response_rate_by_la(
            compiled.figure("trend_la"), ylabel=texts.label(lang, Label("digest_response_rate"))
        ),
        "barriers": charts.barriers_by_arena(counts, arena_names),
    }


def render(
    compiled: Compiled,
    contributions: pd.DataFrame,
    key: bytes,
    audience: Audience,
    lang: str,
    texts: Texts,
    *,
    partial_to: Mapping[str, Any] | None = None,
) -> Rendered:
    """The Telegram message (split to fit) and the self-contained HTML file."""
    values = digest_values(compiled, contributions, key, audience, partial_to=partial_to)
    images = chart_images(values, compiled, texts, lang) if audience == "researchers" else {}
    values["charts"] = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in images.items()
    }
    message = digest_message(values, texts, lang)
    page = texts.render(lang, "digest/page.html", {"digest": values})
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
