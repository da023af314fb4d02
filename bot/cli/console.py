"""`triobot console`: the real Application on the stand-in for Telegram, in a terminal.

Buttons show as numbered choices (type the number to tap); `/as NAME` switches who is
typing, so one person can play a whole trio. Works with piped standard input too.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.app.factory import build_application, running
from bot.clock import Clock
from bot.config import Settings
from bot.programme.demo import seed_demo
from bot.standin.api import FakeTelegram
from bot.standin.driver import Conversation, SimPerson
from bot.standin.limits import Limits
from bot.standin.request import StandInRequest
from bot.standin.world import SentMessage
from bot.telegram.context import Services

HELP = (
    "Console commands: /as NAME [en|es|pt] — type as someone else · /voice [seconds] · "
    "/sticker · /photo · /quit. A number taps that button on the latest message."
)


class Console:
    def __init__(self, conversation: Conversation, out: TextIO) -> None:
        self.conversation = conversation
        self.out = out
        self.people: dict[str, SimPerson] = {}
        self.names: dict[int, str] = {}
        self.seen: set[tuple[int, int]] = set()
        self.current = self.person("Alice")

    def person(self, name: str, language: str = "en") -> SimPerson:
        key = name.casefold()
        if key not in self.people:
            user_id = 100_001 + len(self.people)
            self.people[key] = self.conversation.person(user_id, name, language)
            self.names[user_id] = name
        return self.people[key]

    def show(self, messages: list[SentMessage]) -> None:
        for message in messages:
            who = self.names.get(message.chat_id, f"chat {message.chat_id}")
            if message.edits and (message.chat_id, message.message_id) in self.seen:
                # An edit after a tap only changes the buttons: show just those.
                labels = "   ".join(label for row in message.buttons for label, _ in row)
                self.out.write(f"  ↳ {labels or '(buttons removed)'}\n")
                continue
            self.seen.add((message.chat_id, message.message_id))
            self.out.write(f"\n[bot → {who}]\n")
            if message.document is not None:
                self.out.write(f"📎 {message.document[0]} ({len(message.document[1])} bytes)\n")
            if message.plain_text:
                self.out.write(message.plain_text + "\n")
            number = 0
            for row in message.buttons:
                cells = []
                for label, _ in row:
                    number += 1
                    cells.append(f"[{number}] {label}")
                self.out.write("   ".join(cells) + "\n")
        self.out.flush()

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False means quit."""
        text = line.strip()
        if not text:
            return True
        word, _, rest = text.partition(" ")
        if word == "/quit":
            return False
        if word == "/as" and rest:
            name, _, language = rest.partition(" ")
            self.current = self.person(name, language.strip() or "en")
            self.out.write(f"(now typing as {self.current.first_name})\n")
            return True
        if word == "/voice":
            seconds = int(rest) if rest.strip().isdigit() else 8
            self.show(await self.current.sends_voice(seconds))
        elif word == "/sticker":
            self.show(await self.current.sends_sticker())
        elif word == "/photo":
            self.show(await self.current.sends_photo())
        elif text.isdigit() and self._button(int(text)) is not None:
            message, data = self._button(int(text))  # type: ignore[misc]
            self.show(await self.current.taps_data(data, message_id=message.message_id))
        else:
            self.show(await self.current.says(text))
        return True

    def _button(self, number: int) -> tuple[SentMessage, str] | None:
        for message in reversed(self.current.inbox):
            flat = [data for row in message.buttons for _, data in row]
            if flat:
                return (message, flat[number - 1]) if 1 <= number <= len(flat) else None
        return None


async def run_console(
    settings: Settings,
    *,
    clock: Clock,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    demo: bool = True,
) -> None:
    api = FakeTelegram(limits=Limits(enabled=False))
    # One person at a keyboard (or a piped script) is not a flood: no flood control here.
    settings = settings.model_copy(update={"flood_per_minute": 0.0})
    # The console sends the outbox too (to its stand-in): beside a running bot on the same
    # database it would mark real messages sent, so it takes the same one-instance lease.
    app = build_application(
        settings, request=StandInRequest(api), clock=clock, polling=False, instance_lease=True
    )
    async with running(app):
        services: Services = app.bot_data
        console = Console(Conversation(app, api), out)
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
        interactive = stdin.isatty()
        while True:
            if interactive:
                out.write(f"{console.current.first_name}> ")
                out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if not interactive:
                out.write(f"\n{console.current.first_name}> {line.rstrip()}\n")
            if not await console.handle(line):
                break
