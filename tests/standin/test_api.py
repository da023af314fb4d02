"""FakeTelegram seen through a real ``telegram.Bot``: PTB must raise what production raises."""

import asyncio
import datetime as dtm
import json
import re
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, RetryAfter

from bot.standin import FakeClock, FakeTelegram, Limits, StandInRequest

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ANN, BOB, STRANGER, GROUP = 101, 102, 103, -5001


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> FakeTelegram:
    api = FakeTelegram(clock=clock, wall_clock=lambda: 1_700_000_000.0)
    api.add_user(ANN, "Ann", username="ann")
    api.add_user(BOB, "Bob", last_name="Brown")
    api.add_user(STRANGER, "Stan")
    api.add_group(GROUP, "Trio 1", [ANN, BOB])
    api.text(ANN, "/start")  # Ann and Bob have talked to the bot, Stan never has
    api.text(BOB, "/start")
    return api


@pytest.fixture
async def bot(api: FakeTelegram) -> AsyncIterator[Bot]:
    # Both request objects must be replaced, or getUpdates would go to the network.
    request = StandInRequest(api)
    bot = Bot(token="123:ABC", request=request, get_updates_request=request)
    await bot.initialize()
    yield bot
    await bot.shutdown()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d or "x", callback_data=d) for d in data]])


def seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_get_me_and_valid_send(bot: Bot, api: FakeTelegram) -> None:
    assert bot.username == "triobot_test_bot"
    msg = await bot.send_message(
        ANN, "<b>Hello</b> &amp; welcome", parse_mode="HTML", reply_markup=keyboard("go")
    )
    assert isinstance(msg, Message)
    assert msg.text == "Hello & welcome"
    assert msg.text_html == "<b>Hello</b> &amp; welcome"
    assert msg.from_user is not None and msg.from_user.id == bot.id
    assert msg.chat.type == "private" and msg.chat.first_name == "Ann"
    assert msg.message_id == 2  # shares the counter with Ann's /start
    assert msg.reply_markup == keyboard("go")
    assert msg.date == dtm.datetime.fromtimestamp(1_700_000_000, dtm.UTC)
    sent = api.last_in(ANN)
    assert sent is not None
    assert sent.plain_text == "Hello & welcome"
    assert sent.buttons == [[("go", "go")]]
    assert api.calls["sendMessage"] == 1


async def test_reply_and_group_send(bot: Bot, api: FakeTelegram) -> None:
    said = api.text(ANN, "question", chat_id=GROUP)["message"]
    msg = await bot.send_message(GROUP, "answer", reply_to_message_id=said["message_id"])
    assert msg.chat.type == "group" and msg.chat.title == "Trio 1"
    assert msg.reply_to_message is not None and msg.reply_to_message.text == "question"
    assert api.messages_in(GROUP)[0].reply_to_message_id == said["message_id"]
    with pytest.raises(BadRequest, match=r"(?i)Message to be replied not found"):
        await bot.send_message(GROUP, "x", reply_to_message_id=999)


@pytest.mark.parametrize(
    ("chat_id", "error", "text"),
    [
        (STRANGER, Forbidden, "bot can't initiate conversation with a user"),
        (424242, BadRequest, "Chat not found"),
        (-999, BadRequest, "Chat not found"),
    ],
)
async def test_chat_refusals(
    bot: Bot, api: FakeTelegram, chat_id: int, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=r"(?i)" + re.escape(text)):
        await bot.send_message(chat_id, "hi")
    assert api.refusals[-1][0] == "sendMessage"
    assert api.sent == []


async def test_blocked_user(bot: Bot, api: FakeTelegram) -> None:
    api.block(ANN)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(ANN, "hi")
    api.unblock(ANN)
    await bot.send_message(ANN, "hi")


@pytest.mark.parametrize(
    ("text", "parse_mode", "error"),
    [
        ("", None, "Message text is empty"),
        ("   \n", None, "Message text is empty"),
        ("<b></b>", "HTML", "Message text is empty"),
        ("a" * 4097, None, "Message is too long"),
        ("<b>" + "a" * 4097 + "</b>", "HTML", "Message is too long"),
        ("😀" * 2049, None, "Message is too long"),  # 4098 UTF-16 units
        ("hi <div>", "HTML", 'Unsupported start tag "div" at byte offset 3'),
        ("<b>x", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x", "HTMLX", "Unsupported parse_mode"),
    ],
)
async def test_text_refusals(bot: Bot, text: str, parse_mode: str | None, error: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)" + re.escape(error)):
        await bot.send_message(ANN, text, parse_mode=parse_mode)


async def test_text_limits_are_counted_after_tags(bot: Bot) -> None:
    await bot.send_message(ANN, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(ANN, "😀" * 2048)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        (keyboard("x" * 65), "BUTTON_DATA_INVALID"),
        (keyboard("é" * 33), "BUTTON_DATA_INVALID"),  # 66 bytes in UTF-8
        (keyboard(""), "BUTTON_DATA_INVALID"),
        (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(str(i), callback_data="d")] for i in range(101)]
            ),
            "Reply markup is too long",
        ),
        ({"inline_keyboard": [[{"text": "", "callback_data": "a"}]]}, "BUTTON_TEXT_INVALID"),
        ({"inline_keyboard": [[{"text": "plain"}]]}, "Text buttons are unallowed"),
    ],
)
async def test_keyboard_refusals(bot: Bot, markup: Any, error: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)" + re.escape(error)):
        await bot.send_message(ANN, "pick", reply_markup=markup)


async def test_keyboard_with_64_bytes_and_100_buttons_is_fine(bot: Bot) -> None:
    await bot.send_message(ANN, "ok", reply_markup=keyboard("x" * 64))
    rows = [[InlineKeyboardButton(str(i), callback_data="d")] for i in range(100)]
    await bot.send_message(ANN, "ok", reply_markup=InlineKeyboardMarkup(rows))


async def test_edits(bot: Bot, api: FakeTelegram) -> None:
    msg = await bot.send_message(ANN, "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"(?i)Message is not modified"):
        await bot.edit_message_text(
            "<strong>v1</strong>",
            ANN,
            msg.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("a"),
        )
    edited = await bot.edit_message_text("v2", ANN, msg.message_id, reply_markup=keyboard("b"))
    assert isinstance(edited, Message) and edited.text == "v2"
    assert edited.edit_date is not None
    # An edit without reply_markup drops the inline keyboard, as Telegram does.
    await bot.edit_message_text("v3", ANN, msg.message_id)
    sent = api.last_in(ANN)
    assert sent is not None and sent.edits == 2 and sent.reply_markup is None
    await bot.edit_message_reply_markup(ANN, msg.message_id, reply_markup=keyboard("c"))
    with pytest.raises(BadRequest, match=r"(?i)Message is not modified"):
        await bot.edit_message_reply_markup(ANN, msg.message_id, reply_markup=keyboard("c"))
    assert [kind for kind, _ in api.events] == ["sent", "edited", "edited", "edited"]


async def test_edit_refusals(bot: Bot, api: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match=r"(?i)Message to edit not found"):
        await bot.edit_message_text("x", ANN, 999)
    with pytest.raises(BadRequest, match=r"(?i)Message can't be edited"):
        await bot.edit_message_text("x", ANN, 1)  # Ann's own /start
    msg = await bot.send_message(ANN, "bye")
    assert await bot.delete_message(ANN, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)Message to edit not found"):
        await bot.edit_message_text("x", ANN, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)Message to delete not found"):
        await bot.delete_message(ANN, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)Message to edit not found"):
        await bot.edit_message_text(" ", ANN, msg.message_id + 100)  # checked before the text
    assert api.messages_in(ANN) == []


async def test_callback_answers(bot: Bot, api: FakeTelegram) -> None:
    msg = await bot.send_message(ANN, "pick", reply_markup=keyboard("a"))
    update = Update.de_json(api.callback(ANN, msg.message_id, "a"), bot)
    query = update.callback_query
    assert query is not None and query.data == "a"
    assert isinstance(query.message, Message) and query.message.text == "pick"
    with pytest.raises(BadRequest, match=r"(?i)MESSAGE_TOO_LONG"):
        await query.answer("x" * 201)
    assert await query.answer("done")
    with pytest.raises(BadRequest, match=r"(?i)Query is too old"):
        await query.answer()
    with pytest.raises(BadRequest, match=r"(?i)Query is too old"):
        await bot.answer_callback_query("nonsense")
    assert api.answers[-1]["text"] == "done" and api.answers[-1]["user_id"] == ANN


async def test_callback_for_missing_message_is_inaccessible(bot: Bot, api: FakeTelegram) -> None:
    update = Update.de_json(api.callback(ANN, 777, "forged:data"), bot)
    assert update.callback_query is not None
    # PTB turns Telegram's date-0 message into a Message that reports itself inaccessible.
    assert update.callback_query.message is not None
    assert not update.callback_query.message.is_accessible
    assert update.callback_query.data == "forged:data"


async def test_private_rate_limit(bot: Bot, clock: FakeClock) -> None:
    for i in range(3):  # the burst
        await bot.send_message(ANN, f"m{i}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ANN, "too fast")
    assert seconds(caught.value) == 1
    await bot.send_message(BOB, "another chat is not limited")
    clock.advance(1)
    await bot.send_message(ANN, "after waiting")


async def test_edits_do_not_count(bot: Bot, api: FakeTelegram) -> None:
    msg = await bot.send_message(ANN, "v0")
    for i in range(10):
        await bot.edit_message_text(f"v{i + 1}", ANN, msg.message_id)
    assert api.refusals == []


async def test_group_and_overall_rate_limits(api: FakeTelegram, clock: FakeClock) -> None:
    bot = Bot(token="123:ABC", request=StandInRequest(api))
    await bot.initialize()
    for _ in range(20):
        await bot.send_message(GROUP, "hi")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "hi")
    assert seconds(caught.value) == 3  # 20 a minute refills one every 3 s
    clock.advance(3)
    await bot.send_message(GROUP, "hi")

    crowd = FakeTelegram(clock=clock, limits=Limits(overall_per_second=5))
    crowd_bot = Bot(token="123:ABC", request=StandInRequest(crowd))
    await crowd_bot.initialize()
    for uid in range(1, 7):
        crowd.add_user(uid, f"u{uid}")
        crowd.text(uid, "hi")
    for uid in range(1, 6):
        await crowd_bot.send_message(uid, "x")
    with pytest.raises(RetryAfter):
        await crowd_bot.send_message(6, "x")
    crowd.limiter.limits.enabled = False
    await crowd_bot.send_message(6, "x")


async def test_document_upload_and_reuse(bot: Bot, api: FakeTelegram) -> None:
    msg = await bot.send_document(
        ANN, document=b"minutes...", filename="minutes.txt", caption="Notes"
    )
    assert msg.document is not None and msg.document.file_name == "minutes.txt"
    assert msg.caption == "Notes"
    sent = api.last_in(ANN)
    assert sent is not None and sent.document == ("minutes.txt", b"minutes...")
    again = await bot.send_document(BOB, document=msg.document.file_id)
    assert again.document is not None
    assert again.document.file_unique_id == msg.document.file_unique_id
    with pytest.raises(BadRequest, match=r"(?i)Wrong file identifier"):
        await bot.send_document(ANN, document="no-such-file")
    with pytest.raises(BadRequest, match=r"(?i)Message caption is too long"):
        await bot.send_document(ANN, document=b"x", filename="a.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ANN, photo=b"not an image")
    photo = await bot.send_photo(ANN, photo=b"\x89PNG\r\n\x1a\n....")
    assert photo.photo and photo.photo[0].width == 1280


async def test_incoming_files_can_be_downloaded(bot: Bot, api: FakeTelegram) -> None:
    update = Update.de_json(api.voice(ANN, duration=3, content=b"OggS-voice"), bot)
    assert update.message is not None and update.message.voice is not None
    other = api.voice(ANN)["message"]["voice"]
    assert other["file_id"] != update.message.voice.file_id
    file = await update.message.voice.get_file()
    assert bytes(await file.download_as_bytearray()) == b"OggS-voice"


async def test_fault_injection(bot: Bot, api: FakeTelegram) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ANN, "hi")
    assert seconds(caught.value) == 7
    api.fail_next(None, 403, "Forbidden: bot was kicked from the group chat", times=2)
    for _ in range(2):
        with pytest.raises(Forbidden, match=r"(?i)kicked"):
            await bot.send_chat_action(ANN, "typing")
    await bot.send_message(ANN, "works again")


async def test_misc_methods(bot: Bot, api: FakeTelegram) -> None:
    await bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("help", "Help")])
    assert [c["command"] for c in api.commands] == ["start", "help"]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "Begin")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.send_chat_action(ANN, "typing")
    with pytest.raises(BadRequest, match=r"(?i)Wrong parameter action"):
        await bot.send_chat_action(ANN, "dancing")
    chat = await bot.get_chat(GROUP)
    assert chat.title == "Trio 1"
    assert await bot.delete_webhook()
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")


async def test_handle_accepts_http_style_params(api: FakeTelegram) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    status, body = await api.handle(
        "sendmessage", {"chat_id": str(ANN), "text": "hi", "reply_markup": markup}, {}
    )
    assert status == 200 and body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"
    status, body = await api.handle(
        "sendMessage", {"chat_id": ANN, "text": "x", "reply_markup": "{"}, {}
    )
    assert (status, body["ok"]) == (400, False)
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    assert (await api.handle("nope", {}, {}))[0] == 404


def test_update_builders(api: FakeTelegram) -> None:
    update = api.text(ANN, "/start@triobot_test_bot now")
    entity = update["message"]["entities"][0]
    assert entity == {"type": "bot_command", "offset": 0, "length": len("/start@triobot_test_bot")}
    assert "entities" not in api.text(ANN, "no command")["message"]
    ids = [api.sticker(ANN)["update_id"], api.location(ANN)["update_id"]]
    assert ids[1] == ids[0] + 1
    doc = api.document(ANN, "plan.pdf", caption="see")["message"]
    assert doc["document"]["file_name"] == "plan.pdf" and doc["caption"] == "see"
    edited = api.edited_text(ANN, doc["message_id"] - 3, "/help")["edited_message"]
    assert edited["text"] == "/help" and "edit_date" in edited
    with pytest.raises(ValueError, match="not a member"):
        api.text(STRANGER, "hi", chat_id=GROUP)
    with pytest.raises(ValueError, match="unknown user"):
        api.text(4040, "hi")


async def test_get_updates_queue(bot: Bot, api: FakeTelegram) -> None:
    first, second = api.text(ANN, "one"), api.text(ANN, "two")
    api.push_update(first)
    api.push_update(second)
    got = await bot.get_updates(timeout=0)
    assert [u.update_id for u in got] == [first["update_id"], second["update_id"]]
    got = await bot.get_updates(offset=second["update_id"], limit=1)
    assert [u.update_id for u in got] == [second["update_id"]]
    assert await bot.get_updates(offset=second["update_id"] + 1) == ()

    later = api.text(ANN, "three")

    async def push_soon() -> None:
        await asyncio.sleep(0.01)
        api.push_update(later)

    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(push_soon())
    got = await bot.get_updates(offset=second["update_id"] + 1, timeout=5)
    await task
    assert [u.update_id for u in got] == [later["update_id"]]
    assert loop.time() - started < 1  # woke on push, not on timeout


async def test_copy_and_forward(bot: Bot, api: FakeTelegram) -> None:
    said = api.text(ANN, "please share")["message"]
    copied = await bot.copy_message(BOB, ANN, said["message_id"])
    last = api.last_in(BOB)
    assert last is not None and last.plain_text == "please share"
    forwarded = await bot.forward_message(BOB, ANN, said["message_id"])
    assert forwarded.forward_origin is not None and forwarded.text == "please share"
    assert forwarded.message_id == copied.message_id + 1
    with pytest.raises(BadRequest, match=r"(?i)message to copy not found"):
        await bot.copy_message(BOB, ANN, 999)
