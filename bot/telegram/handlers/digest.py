"""/digest: a researcher or coordinator builds any past week's digest (with the exports);
anyone else in the programme gets the latest shared digest."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.digest.asked import BadWeek, digest_for
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import joined, refuse, say, say_file, say_parts


async def digest(update: Update, context: Context) -> None:
    """The digest as a short message, then the full digest as an HTML file."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    chat_id = who.actor.chat_id
    given = context.args[0] if context.args else None
    found = await digest_for(svc.digests, who.roles, given, who.lang)
    if found == "not_allowed":
        await refuse(context, who, "digest.shared")
        return
    if isinstance(found, BadWeek):
        values: dict[str, object] = {"given": found.given, "week": found.latest}
        await say(context, chat_id, who.lang, "digest/bad_week", values)
        return
    rendered = found.rendered
    await say_parts(context, chat_id, rendered.message)
    caption = {"week": found.week, "exports": False}
    await say_file(
        context, chat_id, who.lang, rendered.html, rendered.filename, "digest/caption", caption
    )
    if found.xlsx is not None:
        name = f"triobot-export-{found.week}.xlsx"
        caption = {"week": found.week, "exports": True}
        await say_file(context, chat_id, who.lang, found.xlsx, name, "digest/caption", caption)


def register(app: App) -> None:
    app.add_handler(CommandHandler("digest", digest))
