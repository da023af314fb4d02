"""/summary, the Approve / Suggest / Edit / Confirm buttons on a draft, and action statuses."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.flows.engine import Button, Outcome, Say, Tapped, Toast
from bot.meetings.service import may
from bot.people.permissions import allowed
from bot.telegram.context import App, Context
from bot.telegram.handlers import common
from bot.telegram.handlers.common import Who, deliver, joined, markup, refuse, say
from bot.telegram.handlers.meetings import summary_context, svc_wake
from bot.texts import Label
from storage.meetings import Meeting, MeetingRepo
from storage.summaries import SummaryRepo


async def _meeting_to_summarise(context: Context, who: Who) -> Meeting | None:
    """The latest held meeting this person may write up: as its trio's lead, or as named."""
    svc = context.bot_data
    memberships = await svc.programme.memberships(who.person.id)
    for membership in memberships:
        found = await MeetingRepo.latest_held(svc.db, membership.trio.id)
        if found is None:
            continue
        lead = allowed(who.roles, "summary.run", trio_id=found.trio_id, memberships=memberships)
        if lead or found.summary_runner_id == who.person.id:
            return found
    return None


async def summary(update: Update, context: Context) -> None:
    """Write up the latest meeting, or see where its summary stands."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    found = await _meeting_to_summarise(context, who)
    if found is None:
        memberships = await svc.programme.memberships(who.person.id)
        if not allowed(who.roles, "summary.run", memberships=memberships):
            await refuse(context, who, "summary.run")
        else:
            await say(context, who.actor.chat_id, who.lang, "summary/no_meeting")
        return
    existing = await SummaryRepo.for_meeting(svc.db, found.id)
    if existing is None:
        outcome = await svc.engine.start(
            who.actor, "summary", await summary_context(context, found)
        )
        await deliver(update, context, outcome, who.lang)
        return
    members = await MeetingRepo.members(svc.db, found.trio_id)
    approved = await SummaryRepo.approvals(svc.db, existing.id, existing.revision)
    values = {
        "trio": found.trio_name,
        "status": existing.status,
        "approved": len(approved & {m.person_id for m in members}),
        "total": len(members),
        "waiting": [m.name for m in members if m.person_id not in approved],
        "past_deadline": svc.clock() >= existing.agree_by,
    }
    keyboard = None
    lead = await may(svc.db, who.person.id, "summary.run", found.trio_id)
    if existing.status == "draft" and lead and values["past_deadline"]:
        data = svc.engine.signer.sign("s", existing.id, 0, "c")
        keyboard = markup(context, who.lang, ((Button(Label("confirm_agreed"), data),),))
    await say(context, who.actor.chat_id, who.lang, "summary/status", values, keyboard)


async def _sections(context: Context, summary_id: int) -> list[list[object]]:
    """What the author can change, as options: [key, label, params]."""
    db = context.bot_data.db
    found = await SummaryRepo.get(db, summary_id)
    assert found is not None
    sections: list[list[object]] = [["focus", "section_focus", {}]]
    for n, item in enumerate(await SummaryRepo.items(db, summary_id), start=1):
        sections.append([f"item:{item.id}", "section_item", {"kind": item.kind, "number": n}])
    for n, action in enumerate(await SummaryRepo.actions(db, summary_id), start=1):
        sections.append([f"action:{action.id}", "section_action", {"number": n}])
    for kind in ("evidence", "question", "other"):
        sections.append([kind, "section_add", {"kind": kind}])
    return sections


async def on_button(update: Update, context: Context, who: Who, fields: list[str]) -> None:
    """A tap on a draft summary; fields are the verified data ("s", id, revision, action)."""
    svc = context.bot_data
    try:
        summary_id, revision, action = int(fields[1]), int(fields[2]), fields[3]
    except (IndexError, ValueError):
        summary_id, revision, action = 0, 0, ""
    pid = who.person.id
    outcome: Outcome
    if action == "a":
        result = await svc.agreement.approve(pid, summary_id, revision)
        outcome = _decided(result, Label("approved"))
    elif action == "c":
        result = await svc.agreement.confirm(pid, summary_id)
        outcome = _decided(result, Label("confirm_agreed"))
    elif action == "s":
        result = await svc.agreement.check_suggest(pid, summary_id, revision)
        if result != "approved":
            outcome = _decided(result, Label("suggest_change"))
        else:
            flow_context: dict[str, object] = {"summary_id": summary_id, "revision": revision}
            outcome = await svc.engine.start(who.actor, "summary_suggest", flow_context)
            outcome.replies.insert(0, Tapped(chosen=Label("suggest_change")))
    elif action == "e":
        found = await SummaryRepo.get(svc.db, summary_id)
        if found is None or not await svc.agreement.may_edit(svc.db, pid, found):
            outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
        elif found.status != "draft":
            outcome = _decided("stale", Label("edit_summary"))
        else:
            flow_context = {
                "summary_id": summary_id,
                "sections": await _sections(context, summary_id),
            }
            outcome = await svc.engine.start(who.actor, "summary_edit", flow_context)
            outcome.replies.insert(0, Tapped(chosen=Label("edit_summary")))
    else:
        outcome = Outcome([Toast(Label("button_stale"))])
    svc_wake(context)
    await deliver(update, context, outcome, who.lang)


def _decided(result: str, chosen: Label) -> Outcome:
    if result in ("approved", "agreed"):
        return Outcome([Tapped(chosen=chosen)])
    if result == "not_yours":
        return Outcome([Toast(Label("button_not_yours"), alert=True)])
    if result == "too_early":
        return Outcome([Toast(Label("summary_too_early"), alert=True)])
    return Outcome([Toast(Label("summary_stale"), alert=True), Tapped()])


async def on_action_button(update: Update, context: Context, who: Who, fields: list[str]) -> None:
    """Done / in progress / dropped, from the owner (or the trio's lead)."""
    svc = context.bot_data
    try:
        action_id, code = int(fields[1]), fields[2]
    except (IndexError, ValueError):
        action_id, code = 0, ""
    result = await svc.follow_up.mark(who.person.id, action_id, code)
    outcome: Outcome
    if result == "marked":
        status = {"d": "done", "p": "in_progress", "x": "dropped"}[code]
        outcome = Outcome(
            [
                Tapped(chosen=Label("action_status", {"status": status})),
                Say("actions/marked", {"status": status}),
            ]
        )
    elif result == "not_yours":
        outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
    else:
        outcome = Outcome([Toast(Label("button_stale")), Tapped()])
    await deliver(update, context, outcome, who.lang)


def register(app: App) -> None:
    app.add_handler(CommandHandler("summary", summary))
    common.BUTTONS["s"] = on_button
    common.BUTTONS["a"] = on_action_button
