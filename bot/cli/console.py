"""`triobot console`: the real Application on the stand-in for Telegram, in a terminal.

Everything the bot sends to anyone is printed, labelled with its recipient (bot/cli/
console_view.py). Buttons show as numbered choices: a number taps that button on the newest
message the person typing was shown. `/as NAME` switches who is typing, so one person can
play a whole trio; `/clock +3d` moves the bot's time on, running what falls due meanwhile,
so a week of the programme can be watched in a minute. Works with piped standard input too.

The console does itself what the bot's background loops do (the schedule tick, the flow
expiry sweep, the outbox sender), after each line typed and at each step of a `/clock`
move, so what it prints comes in the order it happened and a piped script always reads the
same.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import TextIO

from bot.app.factory import build_application, running
from bot.cli.console_clock import BadTime, MovableClock, local_time, target
from bot.cli.console_view import View, callback_data
from bot.clock import Clock
from bot.config import Settings
from bot.programme.demo import seed_demo
from bot.standin.api import FakeTelegram
from bot.standin.clock import FakeClock
from bot.standin.driver import Conversation, SimPerson
from bot.standin.limits import Limits
from bot.standin.request import StandInRequest
from bot.telegram.context import Services

HELP = (
    "Console commands: /as NAME [en|es|pt] — type as someone else · "
    "/group — type in the trio's Telegram group (/link there links it) · /private — back · "
    "/clock — the bot's time · /clock +2h, +3d or 2026-12-07 15:50 — move it on "
    "(what falls due meanwhile is sent) · /voice [seconds] · /sticker · /photo · /quit. "
    "A number taps that button on the latest message you were shown in the chat you type "
    "in; a line starting "
    "with # is a note, not sent."
)
# The trio's Telegram group, made when first wanted: everyone the console has met is in it.
GROUP_ID = -100_001
GROUP_TITLE = "Oldham–Stockport–Wigan trio group"


class Console:
    def __init__(
        self,
        conversation: Conversation,
        services: Services,
        clock: MovableClock,
        out: TextIO,
    ) -> None:
        self.conversation = conversation
        self.services = services
        self.clock = clock
        self.out = out
        self.zone = services.settings.tz
        self.view = View(conversation.api, out, self.zone)
        self.people: dict[str, SimPerson] = {}
        self.current = self.person("Alice")
        self.in_group = False  # typing in the trio's group rather than the private chat

    def person(self, name: str, language: str = "en") -> SimPerson:
        key = name.casefold()
        if key not in self.people:
            user_id = 100_001 + len(self.people)
            self.people[key] = self.conversation.person(user_id, name, language)
            group = self.conversation.api.groups.get(GROUP_ID)
            if group is not None:
                group[1].add(user_id)
        return self.people[key]

    @property
    def where(self) -> str:
        """The prompt: who is typing, and in which chat."""
        return self.current.first_name + (" (group)" if self.in_group else "")

    @property
    def _place(self) -> str:
        return f", in {GROUP_TITLE}" if self.in_group else ", in a private chat with the bot"

    def _group(self) -> None:
        api = self.conversation.api
        if GROUP_ID not in api.groups:
            api.add_group(GROUP_ID, GROUP_TITLE, [p.user_id for p in self.people.values()])
        self.in_group = True

    def say(self, line: str) -> None:
        self.out.write(f"({line})\n")
        self.out.flush()

    def now_text(self) -> str:
        local = self.clock().astimezone(self.zone)
        zone = self.services.settings.programme_tz
        return f"{local:%a} {local.day} {local:%b %Y %H:%M} ({zone})"

    async def handle(self, line: str) -> bool:
        """Act on one typed line, then run what fell due and print it all; False: quit."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True  # a blank line, or a note in a piped script: nothing to send
        word, _, rest = text.partition(" ")
        if word == "/quit":
            return False
        if word == "/as" and rest:
            name, _, language = rest.partition(" ")
            self.current = self.person(name, language.strip() or "en")
            self.say(f"now typing as {self.current.first_name}{self._place}")
            return True
        if word in ("/group", "/private"):
            if word == "/group":
                self._group()
            else:
                self.in_group = False
            self.say(f"now typing as {self.current.first_name}{self._place}")
            return True
        if word == "/clock":
            await self.move_clock(rest)
            return True
        chat = GROUP_ID if self.in_group else None
        if word == "/voice":
            seconds = int(rest) if rest.strip().isdigit() else 8
            await self.current.sends_voice(seconds, chat_id=chat)
        elif word == "/sticker":
            await self.current.sends_sticker(chat_id=chat)
        elif word == "/photo":
            await self.current.sends_photo(chat_id=chat)
        elif not await self.tap(text):
            await self.current.says(text, chat_id=chat, reply_to=self._replying_to(text))
        await self.settle()
        self.view.flush()
        return True

    def _replying_to(self, text: str) -> int | None:
        """In the group, words go as a reply to the bot's latest message there, as people
        answer it in Telegram (in privacy mode the bot sees no other plain message)."""
        if not self.in_group or text.startswith("/"):
            return None
        last = self.conversation.api.last_in(GROUP_ID)
        return None if last is None else last.message_id

    async def tap(self, text: str) -> bool:
        """A number taps that button on the newest message shown to the person typing in
        the chat they type in; False if it is no such button."""
        if not text.isdigit():
            return False
        me = self.current.user_id
        chats = {GROUP_ID} if self.in_group else {me}
        message = self.view.tappable(chats)
        if message is None:
            return False
        data = callback_data(message)
        number = int(text)
        if not 1 <= number <= len(data):
            return False
        chat = None if message.chat_id == me else message.chat_id
        await self.current.taps_data(data[number - 1], message_id=message.message_id, chat_id=chat)
        return True

    # -- time ---------------------------------------------------------------------------
    async def settle(self) -> None:
        """Fire what is due now, close expired flows and send what may go: the bot's
        background loops, done in step so the output follows the order of events."""
        services = self.services
        for _ in range(50):
            report = await services.scheduler.run_due()
            expired = await services.engine.expire_due()
            sent = await services.sender.drain()
            if not (report.fired or expired or sent):
                return

    async def move_clock(self, argument: str) -> None:
        if not argument.strip():
            self.say(f"bot time: {self.now_text()}")
            return
        try:
            end = target(argument, self.clock(), self.zone)
        except BadTime as exc:
            self.say(
                f"{exc}: it is {self.now_text()}. Try /clock +2h, /clock +3d or "
                f"/clock {self.clock().astimezone(self.zone) + timedelta(days=1):%Y-%m-%d} 15:50"
            )
            return
        await self.settle()
        self.view.flush()
        while True:
            upcoming = [
                moment
                for moment in (
                    await self.services.schedule.next_due(),
                    await self.services.outbox.next_not_before(),
                )
                if moment is not None and moment > self.clock()
            ]
            step_to = min([*upcoming, end])
            self.clock.advance(step_to - self.clock())
            await self.settle()
            self.view.flush(heading=self.now_text())
            if self.clock() >= end:
                break
        self.say(f"bot time is now {self.now_text()}")


async def _idle(console: Console, reading: asyncio.Future[str]) -> None:
    """While an interactive prompt waits, send what falls due in real time (as a running
    bot would); what was printed is followed by the prompt again."""
    every = console.services.settings.schedule_poll_seconds  # as often as the bot's tick
    while not reading.done():
        await asyncio.wait({reading}, timeout=every)
        if reading.done():
            return
        await console.settle()
        if console.view.flush():
            console.out.write(f"{console.where}> ")
            console.out.flush()


async def run_console(
    settings: Settings,
    *,
    clock: Clock,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    demo: bool = True,
    start: str | None = None,
) -> None:
    """Run the console until /quit or the end of input. `start`: a programme-local time
    to begin at (`--at 2026-11-30 08:00`, for a repeatable walk-through); BadTime if it
    is not one."""
    bot_clock = MovableClock(clock)  # the bot's time: `clock`, moved on by /clock
    if start is not None:
        bot_clock.start_at(local_time(start, settings.tz))
    api = FakeTelegram(limits=Limits(enabled=False), wall_clock=bot_clock.timestamp)
    # One person at a keyboard (or a piped script) is not a flood: no flood control here.
    settings = settings.model_copy(update={"flood_per_minute": 0.0})
    # The console sends the outbox too (to its stand-in): beside a running bot on the same
    # database it would mark real messages sent, so it takes the same one-instance lease.
    app = build_application(
        settings,
        request=StandInRequest(api),
        clock=bot_clock,
        polling=False,
        instance_lease=True,
        background=False,  # the console ticks and sends itself, in step with what it prints
    )
    async with running(app):
        services: Services = app.bot_data
        # The outbox paces itself on a clock of its own that its waits move on: a burst of
        # invitations prints at once rather than one a second.
        pace = FakeClock()

        async def skip(seconds: float) -> None:
            pace.advance(seconds)

        services.attach_sender(services.sender.bot, monotonic=pace, sleep=skip)
        console = Console(Conversation(app, api), services, bot_clock, out)
        out.write("triobot console — the real bot, with a stand-in for Telegram.\n")
        if demo:
            invites = await seed_demo(services.db)
            if invites:
                out.write("Demo programme ready. Invite codes:\n")
                for invite in invites:
                    out.write(
                        f"  /as {invite.name}   then   /start {invite.code}   ({invite.role})\n"
                    )
        out.write(HELP + "\n")
        await console.settle()  # what fell due while no bot ran on this database
        console.view.flush()
        interactive = stdin.isatty()
        while True:
            if interactive:
                out.write(f"{console.where}> ")
                out.flush()
                reading = asyncio.ensure_future(asyncio.to_thread(stdin.readline))
                await _idle(console, reading)
                line = await reading
            else:
                line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if not interactive:
                out.write(f"\n{console.where}> {line.rstrip()}\n")
            if not await console.handle(line):
                break
