"""/questions and /comment for researchers and coordinators, and the buttons on their lists.

What each may see or do is decided in bot/summaries/partnership_views.py and
bot/summaries/partnership.py; the answer and comment flows are bot/flows/partnership.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from telegram import Update
from telegram.ext import CommandHandler

from bot.buttons import QuestionTap
from bot.flows.engine import Outcome, Say, Toast
from bot.people.permissions import Action
from bot.summaries.partnership import Passed
from bot.summaries.partnership_views import Closed, Listing, NoMatch, NotAllowed, Opening
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import (
    Who,
    buttons,
    deliver,
    identify,
    joined,
    refuse,
    say,
    tapped,
    wake,
)
from bot.telegram.replier import send_voice
from bot.texts import Label

What = Literal["questions", "comment"]
ACTION: dict[What, Action] = {"questions": "questions.answer", "comment": "questions.comment"}


async def questions(update: Update, context: Context) -> None:
    """The trios' open questions, oldest first; a trio or local authority may follow."""
    await _listed(update, context, "questions")


async def comment(update: Update, context: Context) -> None:
    """The summaries and accounts agreed in the last four weeks, to comment on."""
    await _listed(update, context, "comment")


async def _listed(update: Update, context: Context, what: What) -> None:
    who = await joined(update, context)
    if who is None:
        return
    views = context.bot_data.partnership_views
    pick = views.questions if what == "questions" else views.agreed
    given = " ".join(context.args) if context.args else None
    await _show(context, who, await pick(who.person.id, given), what)


async def _show(
    context: Context, who: Who, found: Listing | NoMatch | NotAllowed, what: What
) -> None:
    chat_id = who.actor.chat_id
    if found == "not_allowed":
        await refuse(context, who, ACTION[what])
        return
    if isinstance(found, NoMatch):
        await _no_match(context, who, found, what)
        return
    rows: list[list[tuple[Label, QuestionTap]]] = []
    for item, ref, kind in zip(found.items, found.ids, found.kinds, strict=True):
        number = {"number": item["number"]}
        if what == "questions":
            rows.append([(Label("question_answer", number), QuestionTap("o", ref)),
                         (Label("question_not_for_me"), QuestionTap("p", ref))])  # fmt: skip
        else:
            action: Literal["s", "c"] = "s" if kind == "summary" else "c"
            rows.append([(Label("comment_on", number), QuestionTap(action, ref))])
    rows.append(_paging(found, "l" if what == "questions" else "k"))
    listing = {"items": found.items, "page": found.page, "scope": found.scope_name,
               "answered": found.answered, "more": found.more}  # fmt: skip
    values: dict[str, object] = {"qs": listing}
    template = f"partnership/researcher_{'questions' if what == 'questions' else 'agreed'}"
    keyboard = buttons(context, who.lang, [row for row in rows if row])
    await say(context, chat_id, who.lang, template, values, keyboard)


async def _no_match(context: Context, who: Who, found: NoMatch, what: What) -> None:
    """Nothing is called that: the trios and local authorities there are, to tap."""
    missing: dict[str, object] = {
        "given": found.given, "trios": found.trios, "authorities": found.authorities
    }  # fmt: skip
    page: Literal["l", "k"] = "l" if what == "questions" else "k"
    offered = [(Label(text=name), QuestionTap(page, 0, code)) for name, code in found.choices]
    rows = [offered[i : i + 2] for i in range(0, len(offered), 2)]
    await say(
        context, who.actor.chat_id, who.lang, "partnership/researcher_no_match", {"qs": missing},
        buttons(context, who.lang, rows),
    )  # fmt: skip


def _paging(found: Listing, action: Literal["l", "k"]) -> list[tuple[Label, QuestionTap]]:
    """Questions run oldest first (the next page is newer), agreed work newest first."""
    earlier, later = ("page_older", "page_newer") if action == "l" else ("page_newer", "page_older")
    row = []
    if found.page > 0:
        row.append((Label(earlier), QuestionTap(action, found.page - 1, found.scope)))
    if found.more:
        row.append((Label(later), QuestionTap(action, found.page + 1, found.scope)))
    return row


# --- the buttons -----------------------------------------------------------------------------
async def on_button(update: Update, context: Context) -> None:
    """A tap on a list of questions or agreed work, or on a question passed to them."""
    found = await tapped(update, context, QuestionTap)
    if found is None:
        return
    who, tap = found
    await TAPS[tap.action](update, context, who, tap)


async def _page(update: Update, context: Context, who: Who, tap: QuestionTap) -> None:
    views = context.bot_data.partnership_views
    what: What = "questions" if tap.action == "l" else "comment"
    pick = views.questions if what == "questions" else views.agreed
    await deliver(update, context, Outcome(), who.lang)
    await _show(context, who, await pick(who.person.id, None, tap.ref, tap.scope), what)


async def _open_question(update: Update, context: Context, who: Who, tap: QuestionTap) -> None:
    opened = await context.bot_data.partnership_views.open_question(who.person.id, tap.ref)
    await _open(update, context, who, opened, "questions")


async def _open_work(update: Update, context: Context, who: Who, tap: QuestionTap) -> None:
    kind: Literal["summary", "account"] = "summary" if tap.action == "s" else "account"
    opened = await context.bot_data.partnership_views.open_work(who.person.id, kind, tap.ref)
    await _open(update, context, who, opened, "comment")


async def _open(
    update: Update, context: Context, who: Who, opened: Opening | Closed | NotAllowed, what: What
) -> None:
    svc, chat_id = context.bot_data, who.actor.chat_id
    if opened == "not_allowed":
        await deliver(update, context, Outcome(), who.lang)
        await refuse(context, who, ACTION[what])
        return
    if isinstance(opened, Closed):
        told = Say(f"partnership/{'answer' if what == 'questions' else 'comment'}_closed",
                   {"q": {"why": opened.why, "others": opened.others}})  # fmt: skip
        await deliver(update, context, Outcome([Toast(Label("button_stale")), told]), who.lang)
        return
    if opened.voice is not None:
        await send_voice(context, chat_id, opened.voice)
    if opened.shown is not None:
        await say(context, chat_id, who.lang, *opened.shown)
    outcome = await svc.engine.start(who.actor, opened.flow, opened.context)
    await deliver(update, context, outcome, who.lang)


async def _pass(update: Update, context: Context, who: Who, tap: QuestionTap) -> None:
    passed = await context.bot_data.partnership.pass_on(who.person.id, tap.ref)
    if passed == "not_allowed":
        await deliver(update, context, Outcome(), who.lang)
        await refuse(context, who, "questions.answer")
        return
    if not isinstance(passed, Passed):
        told = Say("partnership/answer_closed", {"q": {"why": passed, "others": []}})
        await deliver(update, context, Outcome([Toast(Label("button_stale")), told]), who.lang)
        return
    wake(context)
    told = Say("partnership/question_passed_on", {"q": {"to": passed.to}})
    await deliver(update, context, Outcome([told]), who.lang)


Tapper = Callable[[Update, Context, Who, QuestionTap], Awaitable[None]]
TAPS: dict[str, Tapper] = {
    "l": _page,
    "k": _page,
    "o": _open_question,
    "p": _pass,
    "s": _open_work,
    "c": _open_work,
}


async def after_reply(update: Update, context: Context, outcome: Outcome) -> None:
    """Once an answer or comment is sent: who it went to, and the outbox woken for it."""
    who = await identify(update, context)
    if who is None:
        return
    wake(context)
    sent = await context.bot_data.partnership.last_sent(who.person.id)
    if sent is not None:
        values = {"trio": sent.trio, "members": sent.members, "group": sent.group,
                  "kind": sent.kind}  # fmt: skip
        await say(context, who.actor.chat_id, who.lang, "partnership/answer_delivered",
                  {"sent_to": values})  # fmt: skip


def register(app: App) -> None:
    # The buttons on these messages are routed in bot/app/factory.py.
    app.add_handler(CommandHandler("questions", questions))
    app.add_handler(CommandHandler("comment", comment))
