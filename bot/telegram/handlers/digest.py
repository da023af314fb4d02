"""/digest [week]: a researcher or coordinator gets the researcher digest of any week of the
programme, this one so far included (with the exports); a teacher or lead the shared one."""

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
    given = " ".join(context.args) if context.args else None  # "last week" is two words
    found = await digest_for(svc.digests, who.roles, given, who.lang)
    if found == "not_allowed":
        await refuse(context, who, "digest.shared")
        return
    if isinstance(found, BadWeek):
        await say(context, chat_id, who.lang, "digest/bad_week", found.values())
        return
    rendered = found.rendered
    await say_parts(context, chat_id, rendered.message)
    await say_file(
        context,
        chat_id,
        who.lang,
        rendered.html,
        rendered.filename,
        "digest/asked_caption",
        found.caption(exports=False),
    )
    if found.xlsx is not None:
        name = f"triobot-export-{found.week}.xlsx"
        caption = found.caption(exports=True)
        await say_file(
            context, chat_id, who.lang, found.xlsx, name, "digest/asked_caption", caption
        )


def register(app: App) -> None:
    app.add_handler(CommandHandler("digest", digest))
