"""The conversation driver: tests that read like a dialogue with the bot."""

import html
from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.standin import Conversation, FakeClock, FakeTelegram, StandInRequest, reply_texts

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

GROUP = -7001


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    buttons = [[InlineKeyboardButton("Yes please", callback_data="choice:yes")]]
    buttons.append([InlineKeyboardButton("No thanks", callback_data="choice:no")])
    await update.effective_message.reply_text(
        "<b>Welcome!</b> Join a trio?",
        parse_mode="HTML",
        reply_markup=InlineKeyboardMarkup(buttons),
    )


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await message.reply_html(f"You said: <i>{html.escape(message.text)}</i>")


async def careless_echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await message.reply_html(f"Careless: {message.text.removeprefix('/careless ')}")


async def media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    if message.voice:
        seconds = message.voice.duration
        seconds = int(getattr(seconds, "total_seconds", lambda: seconds)())
        text = f"Voice note of {seconds}s"
    elif message.sticker:
        text = "Nice sticker"
    elif message.photo:
        text = "Lovely photo"
    else:
        assert message.document is not None
        text = f"Filed {message.document.file_name}"
    await message.reply_text(text)


async def choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    kind, _, value = query.data.partition(":")
    if kind != "choice" or value not in ("yes", "no") or not query.message.is_accessible:
        await query.answer("That button has expired", show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(f"You chose {value}.")


def build_app(api: FakeTelegram) -> Application:  # type: ignore[type-arg]
    request = StandInRequest(api)
    app = (
        ApplicationBuilder()
        .token("123:ABC")
        .request(request)
        .get_updates_request(request)
        .updater(None)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("careless", careless_echo))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(
        MessageHandler(
            filters.VOICE | filters.Sticker.ALL | filters.PHOTO | filters.Document.ALL, media
        )
    )
    app.add_handler(CallbackQueryHandler(choice))
    return app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> FakeTelegram:
    return FakeTelegram(clock=clock)


@pytest.fixture
async def conv(api: FakeTelegram, clock: FakeClock) -> AsyncIterator[Conversation]:
    async with Conversation(build_app(api), api, advance=clock.advance) as conversation:
        yield conversation


async def test_dialogue(conv: Conversation, api: FakeTelegram, clock: FakeClock) -> None:
    ann = conv.person(1, "Ann")
    before = clock()

    replies = await ann.says("/start")
    assert reply_texts(replies) == ["Welcome! Join a trio?"]
    assert replies[0].buttons == [[("Yes please", "choice:yes")], [("No thanks", "choice:no")]]

    edited = await ann.taps("Yes")  # substring match when no label is exactly "Yes"
    assert reply_texts(edited) == ["You chose yes."]
    assert edited[0] is replies[0] and edited[0].edits == 1
    assert edited[0].buttons == []  # the edit removed the keyboard
    assert ann.last_answer is not None and ann.last_answer["text"] is None

    assert reply_texts(await ann.says("<tags> & co")) == ["You said: <tags> & co"]
    assert ann.last_text == "You said: <tags> & co"
    assert len(ann.inbox) == 2
    assert clock() - before == pytest.approx(3 * conv.step_seconds)
    assert api.refusals == []


async def test_media(conv: Conversation) -> None:
    bob = conv.person(2, "Bob")
    assert reply_texts(await bob.sends_voice(duration=7)) == ["Voice note of 7s"]
    assert reply_texts(await bob.sends_sticker()) == ["Nice sticker"]
    assert reply_texts(await bob.sends_photo()) == ["Lovely photo"]
    assert reply_texts(await bob.sends_document("agenda.pdf")) == ["Filed agenda.pdf"]
    assert reply_texts(await bob.sends_location()) == []  # no handler: the bot stays silent


async def test_taps_errors_and_forged_data(conv: Conversation, api: FakeTelegram) -> None:
    ann = conv.person(1, "Ann")
    with pytest.raises(AssertionError, match="no message with an inline keyboard"):
        await ann.taps("Yes")
    await ann.says("/start")
    with pytest.raises(AssertionError, match=r"no button 'Maybe'.*'Yes please', 'No thanks'"):
        await ann.taps("Maybe")
    welcome = ann.last
    assert welcome is not None

    assert await ann.taps_data("choice:never", message_id=welcome.message_id) == []
    assert ann.last_answer is not None and ann.last_answer["show_alert"] is True

    assert await ann.taps_data("choice:yes", message_id=9999) == []  # message never existed
    assert ann.last_answer is not None and ann.last_answer["text"] == "That button has expired"

    await ann.taps("No thanks", message=welcome)
    assert ann.last_text == "You chose no."


async def test_group_chat(conv: Conversation, api: FakeTelegram) -> None:
    ann, bob = conv.person(1, "Ann"), conv.person(2, "Bob")
    api.add_group(GROUP, "Trio", [1, 2])
    await ann.says("/start", chat_id=GROUP)
    replies = await bob.taps("No thanks", chat_id=GROUP)
    assert reply_texts(replies) == ["You chose no."]
    assert replies[0].chat_id == GROUP
    said = (await bob.says("hello all", chat_id=GROUP, reply_to=replies[0]))[0]
    assert said.reply_to_message_id is not None
    assert ann.inbox == [] and len(api.messages_in(GROUP)) == 2


async def test_refusals_surface_when_asked(api: FakeTelegram, clock: FakeClock) -> None:
    async with Conversation(
        build_app(api), api, advance=clock.advance, fail_on_refusal=True
    ) as conv:
        ann = conv.person(1, "Ann")
        assert reply_texts(await ann.says("/careless fine")) == ["Careless: fine"]
        with pytest.raises(AssertionError, match="Unsupported start tag"):
            await ann.says("/careless 1 < 2 <b")


async def test_fake_clock_keeps_humans_under_the_rate_limit(conv: Conversation) -> None:
    ann = conv.person(1, "Ann")
    for i in range(10):
        assert reply_texts(await ann.says(f"message {i}")) == [f"You said: message {i}"]
