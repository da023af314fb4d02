"""The digest's Telegram message: the week's counts, then a headline for each trio with news.

A headline is the trio's name, its focus and one line on what it tried (the first agreed
"shared" item, else its lesson-study account), each shortened on a word boundary. The message
is one Telegram message: as many headlines as fit within the limit, then "…and N more trios —
see the attached page". The words are the templates' (prompts/<lang>/digest/message.j2, which
includes headlines.j2), escaped there, so what people wrote cannot break the HTML.
"""

from __future__ import annotations

from typing import Any

from bot.texts import TELEGRAM_LIMIT, Texts, split_message

NAME_CHARS = 60
FOCUS_CHARS = 100
TRIED_CHARS = 140
_TRIM = " ,;:.-–—…"


def shorten(text: str, limit: int) -> str:
    """`text` on one line; when longer than `limit`, cut at the last word boundary before it
    (a single overlong word is cut inside), with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]  # room for the ellipsis
    space = cut.rfind(" ")
    if flat[limit - 1] != " " and space >= limit // 2:
        cut = cut[:space]  # not inside a word (unless one word is most of it)
    return cut.rstrip(_TRIM) + "…"


def headlines(values: dict[str, Any]) -> list[dict[str, str]]:
    """One headline per trio with agreed work this week, in the digest's trio order."""
    found = []
    for trio in values["trios"]:
        accounts = trio["accounts"]
        focus = trio["focus"][0] if trio["focus"] else accounts[0]["focus"] if accounts else ""
        first = trio["tried"][0] if trio["tried"] else None  # {"text", "school"} (render.py)
        tried = first["text"] if first else accounts[0]["text"] if accounts else ""
        if not (focus or tried):
            continue  # only reflections (the researcher digest): no agreed work to headline
        found.append(
            {
                "name": shorten(str(trio["name"]), NAME_CHARS),
                "focus": shorten(str(focus), FOCUS_CHARS),
                "tried": shorten(str(tried), TRIED_CHARS),
                "school": shorten(str(first["school"] or ""), NAME_CHARS) if first else "",
            }
        )
    return found


def telegram_length(text: str) -> int:
    """Telegram counts UTF-16 code units (an emoji is two); tags counted too, to be safe."""
    return len(text.encode("utf-16-le")) // 2


def digest_message(values: dict[str, Any], texts: Texts, lang: str) -> list[str]:
    """The message for one audience and language: counts and headlines, in one part."""
    lines = headlines(values)

    # The values (bot/digest/render.py) are plain data: labels=False, nothing to look for.
    def block(shown: int, more: int, some: list[dict[str, str]] | None = None) -> str:
        chosen = lines[:shown] if some is None else some
        context = {"headlines": chosen, "more": more}
        return texts.render(lang, "digest/headlines", context, labels=False)

    def message(shown: int) -> str:
        # message.j2 includes headlines.j2 when there are any.
        context = {"digest": values, "headlines": lines[:shown], "more": len(lines) - shown}
        return texts.render(lang, "digest/message", context, labels=False)

    # Estimate from each headline's own length, then check the whole message: fewer fit only
    # when the estimate was off (the "more" line is longer than the headline it replaces).
    heading = telegram_length(block(0, 0))
    room = TELEGRAM_LIMIT - telegram_length(message(0))
    shown = 0
    for line in lines:
        room -= telegram_length(block(0, 0, [line])) - heading
        if room < 0:
            break
        shown += 1
    text = message(shown)
    while shown and telegram_length(text) > TELEGRAM_LIMIT:
        shown -= 1
        text = message(shown)
    return split_message(text)  # one part, unless the counts alone outgrow the limit
