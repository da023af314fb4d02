"""Answers to flow steps: text, voice notes, button taps, /cancel, and what no step takes."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.buttons import ChosenTap, PromptReplyTap, TakenTap
from bot.flows.answers import Input, OtherIn, TextIn, VoiceIn
from bot.flows.engine import Button, Outcome, Say, Tapped, Toast
from bot.reflections.replies import Undone, Waiting
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import (
    GROUP_CHATS,
    Who,
    deliver,
    identify,
    say,
    stranger_language,
    tapped,
)
from bot.texts import Label


def _kind(update: Update) -> str:
    message = update.effective_message
    if message is None:
        return "other"
    for kind in (
        "sticker",
        "photo",
        "video",
        "video_note",
        "animation",
        "audio",
        "document",
        "location",
        "contact",
        "poll",
        "dice",
        "venue",
    ):
        if getattr(message, kind, None):
            return kind
    return "other"


def _meant_for_us(update: Update, context: Context) -> bool:
    """In a group only replies to the bot's messages are answers (what privacy mode lets the
    bot see anyway): people talking among themselves are never taken as answers."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or chat.type not in GROUP_CHATS:
        return True
    replied = message.reply_to_message if message is not None else None
    author = replied.from_user if replied is not None else None
    return author is not None and author.id == context.bot.id


async def _answer(update: Update, context: Context, given: Input) -> None:
    chat = update.effective_chat
    if chat is None or not _meant_for_us(update, context):
        return
    who = await identify(update, context)
    private = chat.type == ChatType.PRIVATE
    if who is None:
        if private:
            await say(context, chat.id, stranger_language(update), "start/no_invite")
        return
    outcome = await context.bot_data.engine.handle(who.actor, given)
    if outcome.refresh_person:
        who = await identify(update, context) or who
    await deliver(update, context, outcome, who.lang)
    if not outcome.handled and private:
        await _not_in_a_flow(update, context, who, given)


async def _not_in_a_flow(update: Update, context: Context, who: Who, given: Input) -> None:
    """Nothing was asked: say so kindly, and remind of a flow that expired unseen."""
    svc = context.bot_data
    expired = await svc.flow_states.take_expiry_notice(who.person.id, who.actor.chat_id)
    if expired is not None:
        flow = svc.engine.registry.get(expired)
        if flow is not None:
            values = {"title": flow.title, "command": flow.command}
            await say(context, who.actor.chat_id, who.lang, "engine/expired", values)
    if who.person.onboarded and isinstance(given, TextIn | VoiceIn):
        waiting = await _waiting(update, context, who)
        if waiting is not None:
            await _answer_prompt(update, context, who, waiting, given)
            return
    if not who.person.onboarded:
        template = "start/finish_joining"
    elif isinstance(given, OtherIn):
        template = "errors/unsupported"
    else:
        template = "errors/not_expected"
    kind = given.kind if isinstance(given, OtherIn) else "text"
    await say(context, who.actor.chat_id, who.lang, template, {"kind": kind})


async def _waiting(update: Update, context: Context, who: Who) -> Waiting | None:
    """The prompt this message answers: the one it replies to, else the one asked last."""
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    markup = replied.reply_markup if replied is not None else None
    buttons = [str(b.callback_data) for row in (markup.inline_keyboard if markup else ())
               for b in row if b.callback_data is not None]  # fmt: skip
    return await context.bot_data.prompt_replies.waiting(
        who.person.id,
        who.actor.chat_id,
        who.lang,
        replied.message_id if replied is not None else None,
        buttons,
    )


async def _answer_prompt(
    update: Update, context: Context, who: Who, waiting: Waiting, given: TextIn | VoiceIn
) -> None:
    """Sent while a prompt waits: its answer, stored, with a one-tap "not an answer"."""
    svc = context.bot_data
    outcome = await svc.engine.answer_with(who.actor, waiting.flow, waiting.context, given)
    if outcome.finished == "reflection" and waiting.reflection_id is not None:
        # Its last reply is the flow's "thank you": it says what it answered, with the undo.
        undo = svc.buttons.encode(PromptReplyTap(waiting.reflection_id))
        keyboard = ((Button(Label("not_an_answer"), undo),),)
        outcome.replies[-1] = Say("reflections/taken", {"question": waiting.question}, keyboard)
    elif outcome.opened is not None:
        # The flow goes on with its next question; the undo sits just above it.
        undo = svc.buttons.encode(TakenTap(outcome.opened))
        keyboard = ((Button(Label("not_an_answer"), undo),),)
        outcome.replies.insert(
            len(outcome.replies) - 1, Say("reflections/taken_first", {}, keyboard)
        )
    await deliver(update, context, outcome, who.lang)


async def not_an_answer_here(update: Update, context: Context) -> None:
    """The undo above the next question of a flow a message opened: the flow closes and
    what the message said is kept as a free reflection."""
    found = await tapped(update, context, TakenTap)
    if found is None:
        return
    who, button = found
    replies = context.bot_data.prompt_replies
    await _undone(
        update, context, who, await replies.keep_opened_as_free(who.person.id, button.state_id)
    )


async def not_an_answer(update: Update, context: Context) -> None:
    """The undo under a message taken as a prompt's answer: kept as a free reflection."""
    found = await tapped(update, context, PromptReplyTap)
    if found is None:
        return
    who, button = found
    replies = context.bot_data.prompt_replies
    await _undone(
        update, context, who, await replies.keep_as_free(who.person.id, button.reflection_id)
    )


async def _undone(update: Update, context: Context, who: Who, result: Undone) -> None:
    if result == "kept_free":
        chosen = Tapped(keyboard=None, chosen=Label("kept_as_free"))
        outcome = Outcome([chosen, Say("reflections/kept_free")])
    elif result == "not_yours":
        outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
    else:
        outcome = Outcome([Toast(Label("button_already")), Tapped(keyboard=None)])
    await deliver(update, context, outcome, who.lang)


async def text(update: Update, context: Context) -> None:
    """Typed text: the answer to the current step, if a flow is open."""
    message = update.effective_message
    if message is not None and message.text is not None:
        await _answer(update, context, TextIn(message.text))


async def voice(update: Update, context: Context) -> None:
    """A voice note: taken wherever free text is, kept as the Telegram file id."""
    message = update.effective_message
    if message is not None and message.voice is not None:
        duration = message.voice.duration
        seconds = int(duration.total_seconds()) if isinstance(duration, timedelta) else duration
        await _answer(update, context, VoiceIn(message.voice.file_id, int(seconds)))


async def other_kind(update: Update, context: Context) -> None:
    """A sticker, photo, document…: explained kindly; the question is asked again."""
    await _answer(update, context, OtherIn(_kind(update)))


async def edited(update: Update, context: Context) -> None:
    """Edits do not change stored answers; say how to change one instead."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    who = await identify(update, context)
    lang = who.lang if who else stranger_language(update)
    await say(context, chat.id, lang, "errors/edited")


async def chosen(update: Update, context: Context) -> None:
    """The ✓ left where a choice was made: nothing changes, they are told it is made."""
    found = await tapped(update, context, ChosenTap)
    if found is not None:
        await deliver(update, context, Outcome([Toast(Label("button_already"))]), found[0].lang)


async def button(update: Update, context: Context) -> None:
    """A flow's button (or data no other route took): the engine checks the signature and
    the stored step before anything changes."""
    query = update.callback_query
    if query is None:
        return
    who = await identify(update, context)
    if who is None:
        outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
        await deliver(update, context, outcome, stranger_language(update))
        return
    outcome = await context.bot_data.engine.tap(who.actor, query.data or "")
    if outcome.refresh_person:
        who = await identify(update, context) or who
    await deliver(update, context, outcome, who.lang)


async def cancel(update: Update, context: Context) -> None:
    """Leave the current flow cleanly; answers given so far stay stored."""
    chat = update.effective_chat
    if chat is None:
        return
    who = await identify(update, context)
    if who is None:
        await say(context, chat.id, stranger_language(update), "start/no_invite")
        return
    await deliver(update, context, await context.bot_data.engine.cancel(who.actor), who.lang)


async def navigate(update: Update, context: Context) -> None:
    """/back and /skip: the Back and Skip buttons, typed (a group's ForceReply has none)."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    who = await identify(update, context)
    if who is None:
        if chat.type not in GROUP_CHATS:  # strangers in a group are not answered
            await say(context, chat.id, stranger_language(update), "start/no_invite")
        return
    command = (message.text or "").split()[0].split("@")[0].lstrip("/")
    outcome = await context.bot_data.engine.navigate(who.actor, "b" if command == "back" else "s")
    if outcome.handled and not any(isinstance(r, Say) for r in outcome.replies):
        outcome.replies.append(Say("engine/cannot_navigate", {"command": command}))
    await deliver(update, context, outcome, who.lang)


def register_first(app: App) -> None:
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, edited))


def register(app: App) -> None:
    app.add_handler(CommandHandler("cancel", cancel))
    app.add_handler(CommandHandler(["back", "skip"], navigate))
    # Buttons of the other families are routed before this, in bot/app/factory.py.
    app.add_handler(CallbackQueryHandler(button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text))
    app.add_handler(MessageHandler(filters.VOICE, voice))


def register_last(app: App) -> None:
    # Anything left that is not a command: stickers, photos, documents, locations…
    app.add_handler(MessageHandler(~filters.COMMAND & filters.UpdateType.MESSAGE, other_kind))
