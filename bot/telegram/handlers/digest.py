"""/digest: a researcher or coordinator builds any past week's digest (with the exports);
anyone else in the programme gets the latest shared digest."""

from __future__ import annotations

import asyncio
import io

from telegram import InputFile, Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler

from bot.digest.compile import parse_week
from bot.digest.exports import write_xlsx
from bot.digest.render import Audience, Rendered
from bot.digest.service import Week
from bot.people.permissions import allowed
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import Who, joined, refuse, say
from storage.digests import DigestArchive


async def digest(update: Update, context: Context) -> None:
    """The digest as a short message, then the full digest as an HTML file."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    args = list(context.args or [])
    if allowed(who.roles, "digest.researcher"):
        week = svc.digests.last_week()
        if args:
            try:
                week = parse_week(args[0])
            except ValueError:
                week = ""
            if not week or not svc.digests.is_past(week):
                values: dict[str, object] = {"given": args[0], "week": svc.digests.last_week()}
                await say(context, who.actor.chat_id, who.lang, "digest/bad_week", values)
                return
        await _send(context, who, await svc.digests.week(week), "researchers")
    elif allowed(who.roles, "digest.shared"):
        week = await DigestArchive.latest_week(svc.db) or svc.digests.last_week()
        await _send(context, who, await svc.digests.week(week), "schools")
    else:
        await refuse(context, who, "digest.shared")


async def _send(context: Context, who: Who, week: Week, audience: Audience) -> None:
    svc = context.bot_data
    rendered: Rendered = await svc.digests.render_async(week, audience, who.lang)
    chat_id = who.actor.chat_id
    for part in rendered.message:
        await context.bot.send_message(
            chat_id, part, parse_mode=ParseMode.HTML, disable_web_page_preview=True
        )
    caption = svc.texts.render(
        who.lang, "digest/caption", {"week": week.compiled.week, "exports": False}
    )
    await context.bot.send_document(
        chat_id,
        InputFile(io.BytesIO(rendered.html), filename=rendered.filename),
        caption=caption,
        parse_mode=ParseMode.HTML,
    )
    if audience == "researchers" and allowed(who.roles, "export.all"):
        content = await _xlsx(week)
        caption = svc.texts.render(
            who.lang, "digest/caption", {"week": week.compiled.week, "exports": True}
        )
        name = f"triobot-export-{week.compiled.week}.xlsx"
        await context.bot.send_document(
            chat_id,
            InputFile(content, filename=name),
            caption=caption,
            parse_mode=ParseMode.HTML,
        )


async def _xlsx(week: Week) -> bytes:
    def build() -> bytes:
        out = io.BytesIO()
        write_xlsx(week.export_tables(), out)
        return out.getvalue()

    return await asyncio.to_thread(build)


def register(app: App) -> None:
    app.add_handler(CommandHandler("digest", digest))
