"""Who is speaking, which button they tapped, and turning replies into messages (all sent
through bot/telegram/replier.py: one path, with its retries and the outbox behind it)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from telegram import (
    CallbackQuery,
    Chat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden

from bot import logs
from bot.buttons import ChosenTap, FlowTap, Tap
from bot.flows.engine import Actor, Button, Keyboard, Outcome, Say, Tapped, Toast
from bot.people.permissions import Action, refusal
from bot.telegram.context import Context, Person, Role
from bot.telegram.replier import post_unread, send_file, send_text
from bot.texts import Label, pick_language, split_message

log = logging.getLogger(__name__)


# What to do once a flow finishes, when it needs Telegram beyond messages (e.g. sending a
# file): flow name → coroutine. Filled by the application factory (bot/app/factory.py).
AfterFlow = Callable[[Update, Context, Outcome], Awaitable[None]]
AFTER_FLOW: dict[str, AfterFlow] = {}
GROUP_CHATS = (ChatType.GROUP, ChatType.SUPERGROUP)


@dataclass(frozen=True, slots=True)
class Who:
    person: Person
    roles: frozenset[Role]
    lang: str
    actor: Actor


async def identify(update: Update, context: Context) -> Who | None:
    """The person behind this update, or None for a stranger (nothing is stored about them)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    svc = context.bot_data
    found = await svc.joining.person(user.id)
    if found is None:
        return None
    person, roles = found
    logs.bind(person_id=person.id)
    lang = pick_language(person.language, user.language_code)
    tz = ZoneInfo(person.time_zone or svc.settings.programme_tz)
    return Who(person, roles, lang, Actor(person.id, chat.id, tz))


async def known(update: Update, context: Context) -> Who | None:
    """The person, joined or joining; a stranger is told how to get an invite."""
    chat = update.effective_chat
    if chat is None:
        return None
    who = await identify(update, context)
    if who is None:
        await say(context, chat.id, stranger_language(update), "start/no_invite")
    return who


async def joined(update: Update, context: Context) -> Who | None:
    """The person, if they have finished joining; otherwise they are told what to do (a
    stranger how to get an invite, someone half-way through joining to finish)."""
    who = await known(update, context)
    if who is not None and not who.person.onboarded:
        await say(context, who.actor.chat_id, who.lang, "start/finish_joining")
        return None
    return who


async def refuse(context: Context, who: Who, action: Action) -> None:
    """Tell them, in their language, why they may not do `action` and who can."""
    template, values = refusal(action)
    await say(context, who.actor.chat_id, who.lang, template, values)


def stranger_language(update: Update) -> str:
    user = update.effective_user
    return pick_language(None, user.language_code if user else None)


def markup(context: Context, lang: str, keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    texts = context.bot_data.texts
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts.label(lang, b.label), callback_data=b.data) for b in row]
            for row in keyboard
        ]
    )


TapRows = Sequence[Sequence[tuple[Label, Tap]]]


def signed(context: Context, rows: TapRows) -> Keyboard:
    """Rows of declared buttons (bot/buttons.py) as a keyboard, their data signed."""
    encode = context.bot_data.buttons.encode
    return tuple(tuple(Button(label, encode(tap)) for label, tap in row) for row in rows)


def buttons(context: Context, lang: str, rows: TapRows) -> InlineKeyboardMarkup | None:
    """The same, as an inline keyboard in `lang`."""
    return markup(context, lang, signed(context, rows))


T = TypeVar("T", bound=Tap)


async def tapped(update: Update, context: Context, family: type[T]) -> tuple[Who, T] | None:
    """Who tapped, and the button of `family` they tapped; None once the tap was answered
    (a stranger's, or data not signed by us)."""
    query = update.callback_query
    who = await identify(update, context)
    if who is None:
        outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
        await deliver(update, context, outcome, stranger_language(update))
        return None
    tap = context.bot_data.buttons.decode(query.data or "") if query is not None else None
    if not isinstance(tap, family):
        await deliver(
            update, context, Outcome([Toast(Label("button_forged"), alert=True)]), who.lang
        )
        return None
    return who, tap


async def say(
    context: Context,
    chat_id: int,
    lang: str,
    template: str,
    values: dict[str, object] | None = None,
    keyboard: InlineKeyboardMarkup | None = None,
) -> None:
    """Render a template and send it, split to fit, the keyboard on the last part."""
    text = context.bot_data.texts.render(lang, template, values)
    await send_text(context, chat_id, split_message(text), keyboard)


async def say_parts(context: Context, chat_id: int, parts: Sequence[str]) -> None:
    """Text already rendered and split to fit (a digest), sent as `say` sends."""
    await send_text(context, chat_id, parts)


async def say_file(
    context: Context,
    chat_id: int,
    lang: str,
    content: bytes,
    filename: str,
    caption: str | None = None,
    values: dict[str, object] | None = None,
) -> None:
    """A file, with its caption rendered from template `caption`, sent as `say` sends."""
    text = context.bot_data.texts.render(lang, caption, values) if caption else None
    await send_file(context, chat_id, content, filename, text)


def wake(context: Context) -> None:
    """Messages were queued: let the outbox sender look now (it may not exist in tests)."""
    sender = getattr(context.bot_data, "sender", None)
    if sender is not None:
        sender.wake()


async def deliver(update: Update, context: Context, outcome: Outcome, lang: str) -> None:
    """Send what the engine decided, in order. Every callback query is answered once."""
    chat: Chat | None = update.effective_chat
    query = update.callback_query
    answered = False
    for reply in outcome.replies:
        if isinstance(reply, Say) and chat is not None and reply.ask and chat.type in GROUP_CHATS:
            await _ask_in_group(update, context, chat.id, lang, reply)
        elif isinstance(reply, Say) and chat is not None:
            keyboard = markup(context, lang, reply.keyboard)
            await say(context, chat.id, lang, reply.template, dict(reply.context), keyboard)
        elif isinstance(reply, Tapped) and query is not None:
            await _retap(context, query, lang, reply)
        elif isinstance(reply, Toast) and query is not None and not answered:
            text = context.bot_data.texts.label(lang, reply.label)
            await query.answer(text[:200], show_alert=reply.alert)
            answered = True
    if query is not None and not answered:
        await query.answer()
    after = AFTER_FLOW.get(outcome.finished or "")
    if after is not None:
        await after(update, context, outcome)


async def _ask_in_group(
    update: Update, context: Context, chat_id: int, lang: str, reply: Say
) -> None:
    """A question in a group, where the bot (in privacy mode) sees only replies to it and
    commands: a free-text question is a ForceReply aimed at the person running the flow, so
    their client opens a reply; a question with buttons keeps its inline keyboard. Back and
    skip are the /back and /skip commands, since a ForceReply carries no buttons."""
    keyboard = reply.keyboard or ()
    signer = context.bot_data.buttons
    nav = {
        tap.action
        for b in (keyboard[-1] if keyboard else ())
        if isinstance(tap := signer.decode(b.data), FlowTap)
    }
    has_options = len(keyboard) > 1
    user = update.effective_user
    values = {
        "user_id": user.id if user else 0,
        "name": user.first_name if user else "",
        "buttons": has_options,
        "can_skip": "s" in nav,
        "can_back": "b" in nav,
    }
    texts = context.bot_data.texts
    text = texts.render(lang, reply.template, dict(reply.context))
    hint = texts.render(lang, "groups/answer_hint", values)
    parts = split_message(f"{text}\n\n{hint}")
    placeholder = texts.label(lang, Label("reply_here"))
    reply_markup: InlineKeyboardMarkup | ForceReply | None = (
        markup(context, lang, keyboard)
        if has_options
        else ForceReply(selective=True, input_field_placeholder=placeholder)
    )
    message = update.message
    reply_to = message.message_id if message is not None else None
    await send_text(context, chat_id, parts, reply_markup, reply_to=reply_to)


async def _retap(context: Context, query: CallbackQuery, lang: str, reply: Tapped) -> None:
    """Replace the tapped keyboard: by the choice made (shown as a ✓ button), or by nothing."""
    keyboard: Keyboard | None = reply.keyboard
    if keyboard is None and reply.chosen is not None:
        data = context.bot_data.buttons.encode(ChosenTap())
        keyboard = ((Button(Label("chosen", {"label": reply.chosen}), data),),)
    # What query.edit_message_reply_markup sends, without building the Message Telegram
    # sends back (nothing reads it: replier.post_unread). Even a message Telegram calls
    # inaccessible is edited: it may still be there, and a refusal is answered below.
    params: dict[str, object] = {"reply_markup": markup(context, lang, keyboard)}
    if query.inline_message_id is not None:
        params["inline_message_id"] = query.inline_message_id
    elif query.message is not None:
        message = query.message
        params.update(chat_id=message.chat.id, message_id=message.message_id)
        params["business_connection_id"] = getattr(message, "business_connection_id", None)
    else:
        return
    try:
        await post_unread(context, "editMessageReplyMarkup", params)
    except BadRequest as exc:
        # Already in that state (a double tap), or the message is gone: nothing to change.
        if "not modified" not in exc.message and "not found" not in exc.message:
            raise
    except Forbidden:
        log.info("could not edit a message in a chat that blocked the bot")
