"""Who is speaking, and turning the engine's replies into Bot API calls."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from telegram import (
    CallbackQuery,
    Chat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.flows.engine import Actor, Button, Keyboard, Outcome, Say, Tapped, Toast
from bot.people.permissions import Action, refusal
from bot.telegram.context import Context
from bot.telegram.ratelimit import retry_seconds
from bot.texts import Label, pick_language, split_message
from storage.db import Transaction
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo, Person, PersonStatus, Role

log = logging.getLogger(__name__)


# What to do once a flow finishes, when it needs Telegram beyond messages (e.g. sending a
# file): flow name → coroutine. Handler modules fill it in their register().
AfterFlow = Callable[[Update, Context, Outcome], Awaitable[None]]
AFTER_FLOW: dict[str, AfterFlow] = {}
GROUP_CHATS = (ChatType.GROUP, ChatType.SUPERGROUP)


@dataclass(frozen=True, slots=True)
class Who:
    person: Person
    roles: frozenset[Role]
    lang: str
    actor: Actor


# Buttons outside flows, by the first field of their verified data (e.g. "m" for a meeting):
# handler modules fill it in their register(); the fields are verified, never trusted.
ButtonHandler = Callable[[Update, Context, Who, list[str]], Awaitable[None]]
BUTTONS: dict[str, ButtonHandler] = {}


async def identify(update: Update, context: Context) -> Who | None:
    """The person behind this update, or None for a stranger (nothing is stored about them)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    svc = context.bot_data
    found = await svc.people.with_roles(user.id)
    if found is None or found[0].status == "erased":
        return None
    person, roles = found
    if person.status == "blocked":
        # They wrote to us, so they unblocked the bot.
        async with svc.db.transaction() as tx:
            await _reactivate(tx, person)
        person = await svc.people.get(person.id) or person
    lang = pick_language(person.language, user.language_code)
    tz = ZoneInfo(person.time_zone or svc.settings.programme_tz)
    return Who(person, roles, lang, Actor(person.id, chat.id, tz))


async def _reactivate(tx: Transaction, person: Person) -> None:
    status: PersonStatus = "active" if person.onboarded else "joining"
    await PeopleRepo.set_status(tx, person.id, status)


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
    parts = split_message(text)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        for attempt, pause in enumerate(REPLY_RETRY_PAUSES):
            try:
                await context.bot.send_message(
                    chat_id,
                    part,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard if last else None,
                    disable_web_page_preview=True,
                )
                break
            except RetryAfter as exc:
                # Still over Telegram's limits after the rate limiter's own waits (a busy
                # moment: replies and the outbox share Telegram's budget). Telegram took
                # none of it, so the rest of the reply goes through the outbox, which paces
                # itself and keeps it until it is sent.
                await _send_later(context, chat_id, parts[index:], keyboard, exc)
                return
            except (TimedOut, BadRequest):
                # A timeout may well have arrived (a second copy would be worse than none);
                # a request Telegram refused would be refused again.
                raise
            except NetworkError:
                # Telegram answered 5xx or the connection broke: the answer is stored
                # already; try the reply again shortly rather than leave them in silence.
                if attempt == len(REPLY_RETRY_PAUSES) - 1:
                    raise
                await asyncio.sleep(pause)


async def _send_later(
    context: Context,
    chat_id: int,
    parts: list[str],
    keyboard: InlineKeyboardMarkup | None,
    refused: RetryAfter,
) -> None:
    svc = context.bot_data
    now = svc.clock()
    not_before = now + timedelta(seconds=retry_seconds(refused))
    batch = uuid.uuid4().hex  # each reply is its own: nothing to deduplicate against
    async with svc.db.transaction() as tx:
        for index, part in enumerate(parts):
            payload: dict[str, object] = {"text": part}
            if keyboard is not None and index == len(parts) - 1:
                payload["reply_markup"] = keyboard.to_dict()
            await OutboxRepo.enqueue(
                tx,
                chat_id,
                "reply",
                payload,
                now=now,
                not_before=not_before,
                dedupe_key=f"reply:{batch}:{index}",
            )
    log.warning("a reply to chat %s still limited: %d part(s) queued", chat_id, len(parts))
    svc.sender.wake()


# Pauses before a failed reply's second and third tries (the last entry is never slept).
REPLY_RETRY_PAUSES = (0.5, 1.5, 0.0)


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
    signer = context.bot_data.engine.signer
    nav = {(signer.verify(b.data) or ["?"])[-1] for b in (keyboard[-1] if keyboard else ())}
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
    for part in parts[:-1]:
        await context.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML)
    placeholder = texts.label(lang, Label("reply_here"))
    reply_markup: InlineKeyboardMarkup | ForceReply | None = (
        markup(context, lang, keyboard)
        if has_options
        else ForceReply(selective=True, input_field_placeholder=placeholder)
    )
    message = update.message
    await context.bot.send_message(
        chat_id,
        parts[-1],
        parse_mode=ParseMode.HTML,
        reply_markup=reply_markup,
        disable_web_page_preview=True,
        reply_parameters=(
            ReplyParameters(message.message_id, allow_sending_without_reply=True)
            if message is not None
            else None
        ),
    )


async def _retap(context: Context, query: CallbackQuery, lang: str, reply: Tapped) -> None:
    """Replace the tapped keyboard: by the choice made (shown as a ✓ button), or by nothing."""
    keyboard: Keyboard | None = reply.keyboard
    if keyboard is None and reply.chosen is not None:
        data = context.bot_data.engine.signer.sign("n")
        keyboard = ((Button(Label("chosen", {"label": reply.chosen}), data),),)
    try:
        await query.edit_message_reply_markup(markup(context, lang, keyboard))
    except BadRequest as exc:
        # Already in that state (a double tap), or the message is gone: nothing to change.
        if "not modified" not in exc.message and "not found" not in exc.message:
            raise
    except Forbidden:
        log.info("could not edit a message in a chat that blocked the bot")
