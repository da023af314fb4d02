"""The simulated term's invariants: the simulator's own record against the stand-in and the DB."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bench.term_people import NUDGE, PROMPT, Silence
from bench.term_world import utc_of
from bot.scheduling.timing import in_quiet_hours, iso_week
from storage.db import to_db_time

if TYPE_CHECKING:
    from bench.term import Outcome, Simulation
    from bench.term_world import Ledger

DELIVERED_MARK = "Tap “Answer now”"  # only the scheduled prompt says this, not /reflect's reply


def prompt_days(sim: Simulation) -> dict[str, date]:
    """Each term week's prompt day by the simulator's own reckoning: the first school day
    from Tuesday on in that week (none if the rest of the week is closed)."""
    days = {}
    for w in range(sim.opts.weeks):
        monday = sim.opts.start + timedelta(weeks=w)
        for offset in range(1, 5):
            day = monday + timedelta(days=offset)
            if sim.term.is_school_day(day):
                days[iso_week_of(day)] = day
                break
    return days


def iso_week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _reminder_reads_right(message: Any, kind: str, starts: datetime, zone: ZoneInfo) -> bool:
    """A meeting reminder, worded for the day it arrived on: the day before's says "Tomorrow
    at 16:00", or "Today at 16:00" when a weekend or quiet hours moved it to the day itself."""
    if kind == "hour before":
        return "In one hour" in message.plain_text
    local, arrived = starts.astimezone(zone), utc_of(message).astimezone(zone)
    word = "Today" if arrived.date() == local.date() else "Tomorrow"
    return f"{word} at {local:%H:%M}: trio meeting" in message.plain_text


def check(sim: Simulation, ledger: Ledger, stats: dict[str, Any]) -> Outcome:
    from bench.term import Outcome

    out = Outcome()
    rec, failures = sim.rec, out.failures
    ids = {r["ref"]: r["id"] for r in ledger.query("SELECT id, ref FROM person")}

    # 1. Every acknowledged answer is in the database, as given.
    lost = 0
    for a in rec.acked:
        row = ledger.query(
            "SELECT status, answer FROM reflection WHERE person_id = ? AND prompt = 'practice'"
            " AND period = ?",
            (ids[a.person], a.week),
        )
        stored = json.loads(row[0]["answer"]) if row and row[0]["answer"] else None
        if isinstance(a.answer, int):
            ok = isinstance(stored, dict) and stored.get("duration") == a.answer
        else:
            ok = stored == a.answer
        if not row or row[0]["status"] != "answered" or not ok:
            lost += 1
            if lost <= 5:
                failures.append(f"acknowledged answer not stored: {a.person} {a.week}")

    # 2. Every due prompt, nudge and meeting reminder delivered; duplicates counted.
    days = prompt_days(sim)
    answered = {(a.person, a.week) for a in rec.acked}
    expected: Counter[tuple[str, str, str]] = Counter()
    got: Counter[tuple[str, str, str]] = Counter()
    off_day = 0
    for p in sim.people:
        if p.joined is None or p.m.role == "researcher":
            continue
        zone = ZoneInfo(p.zone)
        join_week = iso_week(p.joined, zone)
        for week, day in days.items():
            # A week's round fans out when the week opens (Monday 00:00) to those active
            # then. Someone who joins later in the week is caught up when a moment they may
            # be reached is left in it (bot/reflections/catch_up.py, checked to the minute in
            # tests/test_late_joiners.py): that week is counted neither way here.
            if p.joined >= datetime.combine(day - timedelta(days=day.weekday()), wall(0), UTC):
                continue
            if p.blocked_at is not None and p.blocked_at.date() <= day:
                continue
            key = (p.m.ref, week)
            if key in rec.unsure_weeks:
                continue
            expected[(p.m.ref, week, "prompt")] = 1 + rec.snoozes[key]
            # A prompt that came twice (a crash between sending and recording it) may be
            # answered once and ignored once: answered, so no nudge is due.
            expected[(p.m.ref, week, "nudge")] = int(
                key in rec.unanswered_weeks and key not in answered
            )
        first_seen: set[str] = set()
        for m in sim.api.messages_in(p.id):
            local = utc_of(m).astimezone(zone)
            week = iso_week(utc_of(m), zone)
            if (p.m.ref, week) in rec.unsure_weeks:
                continue
            if week == join_week:
                continue  # caught up in the week they joined (see above)
            if m.plain_text.startswith(PROMPT) and DELIVERED_MARK in m.plain_text:
                got[(p.m.ref, week, "prompt")] += 1
                if week not in first_seen:
                    first_seen.add(week)
                    off_day += local.date() != days.get(week)
            elif m.plain_text.startswith(NUDGE):
                got[(p.m.ref, week, "nudge")] += 1
    meeting_members: dict[str, list[Any]] = {}
    for p in sim.people:
        if p.m.trio and p.joined is not None and p.blocked_at is None:
            meeting_members.setdefault(p.m.trio, []).append(p)
    for trio, starts in rec.meetings:
        for p in meeting_members.get(trio, []):
            for kind, at in (
                ("day before", starts - timedelta(days=1)),
                ("hour before", starts - timedelta(hours=1)),
            ):
                delivery = (p.m.ref, f"{trio}@{starts:%Y-%m-%d}", kind)
                expected[delivery] = 1
                got[delivery] = sum(
                    _reminder_reads_right(m, kind, starts, ZoneInfo(p.zone))
                    and abs(utc_of(m) - at) < timedelta(days=1)
                    for m in sim.api.messages_in(p.id)
                )
    work = _work(sim, ledger, ids, expected, got, failures)
    keys = set(expected) | set(got)
    missing = sum(max(0, expected[k] - got[k]) for k in keys)
    duplicates = sum(max(0, got[k] - expected[k]) for k in keys)
    transport = sum(stats["faults_injected"].get(k, 0) for k in ("drop", "timeout"))
    if missing:
        worst = [k for k in keys if expected[k] > got[k]][:5]
        failures.append(f"{missing} due deliveries never arrived, e.g. {worst}")
    if duplicates > sim.bot.kills + transport:
        worst = [k for k in keys if got[k] > expected[k]][:5]
        failures.append(
            f"{duplicates} duplicate deliveries > {sim.bot.kills} crashes + {transport}"
            f" ambiguous sends, e.g. {worst}"
        )
    if sim.bot.kills == 0 and transport == 0 and duplicates:
        failures.append(f"{duplicates} duplicates without any crash")

    # 3. Nothing the bot initiated arrived in quiet hours (their own), at weekends or on the
    #    calendar's closures. What the bot initiates goes through the outbox (its texts are
    #    in the database); anything else it sent answered a message of theirs, and someone who
    #    writes at 21:00 gets the answer at 21:00 (or, after a crash or a 429, a little later).
    queued: dict[int, set[str]] = {}
    # (Kind 'reply': an answer Telegram refused with 429 even after the waits, sent later.)
    initiated_sql = (
        "SELECT chat_id, json_extract(payload, '$.text') FROM outbox WHERE kind != 'reply'"
    )
    for queued_row in ledger.query(initiated_sql):
        queued.setdefault(int(queued_row[0]), set()).add(queued_row[1] or "")
    quiet = replies_in_quiet = late_replies = after_term = 0
    for p in sim.people:
        zone = ZoneInfo(p.zone)
        for m in sim.api.messages_in(p.id):
            local = utc_of(m).astimezone(zone)
            # Researchers are university staff: school closures are not their holidays.
            holiday = p.m.role != "researcher" and not sim.term.is_school_day(local.date())
            in_quiet = in_quiet_hours(local.time(), wall(20), wall(7))
            if not (in_quiet or holiday):
                continue
            initiated = (m.text or "") in queued.get(p.id, ())
            if initiated and not in_quiet and local.date() > sim.term.last_day:
                # The calendar holds no school day after this one: the bot's rule is "better
                # now than never" (scheduling.timing.deferred), e.g. the last week's digest on
                # the Monday after the term. Counted, not a failure.
                after_term += 1
                continue
            said_before = any(said <= m.date + 1 for said in sim.api.spoke_at.get(p.id, ()))
            # An edited message no longer shows the text it was queued with: only the time
            # rule can clear it.
            reply = said_before and (m.edits == 0 or sim.api.answers_them(m))
            if not initiated and reply:
                replies_in_quiet += 1
                late_replies += not sim.api.answers_them(m)
                continue
            quiet += 1
            if quiet <= 5:
                what = "queued" if initiated else "neither queued nor a reply"
                failures.append(
                    f"sent to {p.m.ref} at {local:%a %d %b %H:%M} ({what}): {m.plain_text[:50]!r}"
                )

    # 4. The archived weekly digests count what the simulator counted.
    mismatched = _digests(sim, ledger, days, failures)

    joined = sum(p.joined is not None for p in sim.people)
    # A reply refused by Telegram (5xx) or cut off is not retried by the bot: each such fault
    # may leave one update without its reply (and its person stuck), never more.
    reply_faults = sum(
        n
        for k, n in stats["faults_injected"].items()
        if k.startswith("http 5") or k in ("drop", "timeout")
    )
    silences = _silences(sim, rec.no_reply)
    unanswered = silences["never answered"] + silences["answered, but the same question again"]
    if len(unanswered) > reply_faults:
        failures.append(
            f"{len(unanswered)} updates never got their answer (> {reply_faults} faults that"
            f" could explain it), e.g. {[f'{s.ref}: {s.what}' for s in unanswered[:3]]}"
        )
    if joined < len(sim.people) - len(rec.no_reply):
        failures.append(f"only {joined} of {len(sim.people)} people finished joining")
    if not rec.acked:
        failures.append("no answer was acknowledged: the term exercised nothing")
    if sim.errors:
        failures.append(f"{len(sim.errors)} simulator errors, e.g. {sim.errors[:3]}")
    stops = sum(not final for _, _, final in sim.bot.stops)
    if sim.bot.kills + stops < sim.opts.crashes:
        failures.append(
            f"only {sim.bot.kills} SIGKILLs and {stops} SIGTERMs of {sim.opts.crashes} happened"
        )
    faults_figures = sim.faults.report(ledger, failures)

    faults = dict(stats["faults_injected"])
    faults["403 (blocked users)"] = len(sim.blocked)
    delivery = _delivery(sim, stats, failures)
    out.figures = {
        "teachers and leads / researchers": f"{sum(p.m.role != 'researcher' for p in sim.people)}"
        f" / {sum(p.m.role == 'researcher' for p in sim.people)}",
        "weeks simulated": sim.opts.weeks,
        "joined": sum(p.joined is not None for p in sim.people),
        "crashes survived (SIGKILL + restart)": sim.bot.kills,
        "bot starts": sim.bot.starts,
        "faults injected by kind": faults,
        "updates reached the bot by": delivery,
        "updates sent": dict(rec.updates),
        "updates sent, total": sum(rec.updates.values()),
        "messages from the bot": stats["messages_sent"],
        "refusals by the stand-in": stats["refusals"],
        "answers acknowledged": len(rec.acked),
        "answers sent, reply lost (not acknowledged)": sum(rec.unconfirmed.values()),
        "answers lost": lost,
        "due deliveries checked": sum(expected.values()),
        "due deliveries missing": missing,
        "duplicate deliveries": duplicates,
        **faults_figures,
        "first prompts not on the expected day": off_day,
        "messages in quiet hours or on holidays": quiet,
        "sent after the term's last day (no school day left: now, not never)": after_term,
        "replies to people writing in their quiet hours (allowed) / of them late": (
            f"{replies_in_quiet} / {late_replies}"
        ),
        "weekly digests checked / mismatched": mismatched,
        "updates whose answer outwaited the person's patience": len(rec.no_reply),
        **{f"  of them {kind}": _silence_figures(kind, group) for kind, group in silences.items()},
        **work,
        "behaviour": dict(rec.behaviour),
    }
    return out


def _delivery(sim: Simulation, stats: dict[str, Any], failures: list[str]) -> str:
    """How updates reached the bot; in webhook mode, every one posted and nothing polled."""
    if not sim.opts.webhook:
        return f"getUpdates (long polling), {stats['calls'].get('getUpdates', 0)} calls"
    hook = stats["webhook"]
    if stats["calls"].get("getUpdates", 0):
        failures.append(f"webhook mode, yet getUpdates was called {stats['calls']['getUpdates']}")
    if hook["pending_update_count"]:
        failures.append(f"{hook['pending_update_count']} updates never posted to the bot")
    return (
        f"webhook: {hook['delivered']} posts taken, {hook['failed']} failed and retried"
        f" (bot down or restarting), {hook['pending_update_count']} pending at the end"
    )


def _silences(sim: Simulation, silences: list[Silence]) -> dict[str, list[Silence]]:
    """Sort the waits people gave up on: the answer came later (how late is in `late`),
    never came, or came as the same question again (a loop, not a silence)."""
    groups: dict[str, list[Silence]] = {
        "answered late": [],
        "never answered": [],
        "answered, but the same question again": [],
    }
    for s in silences:
        if s.match is None:
            groups["answered, but the same question again"].append(s)
            continue
        s.late = sim.api.answered_after(s.chat, s.asked, s.match)
        groups["never answered" if s.late is None else "answered late"].append(s)
    return groups


def _silence_figures(kind: str, group: list[Silence]) -> str:
    if not group:
        return "0"
    when = Counter(
        datetime.fromtimestamp(s.sim_at, UTC).strftime("%a %d %b %H:%M") for s in group
    ).most_common(3)
    busiest = ", ".join(f"{n} at {moment}" for moment, n in when)
    if kind != "answered late":
        return f"{len(group)} (most {busiest}) e.g. {group[0].ref}: {group[0].what}"
    late = sorted(s.late or 0.0 for s in group)
    return (
        f"{len(group)}, after {late[len(late) // 2]:.0f} s median, {late[-1]:.0f} s at worst"
        f" (most {busiest})"
    )


def _answer(body: str | None) -> Any:
    return json.loads(body) if body else None


def _loose(value: str) -> Any:
    """A column that may hold JSON or plain text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _same(stored: Any, given: str | int) -> bool:
    """A stored JSON answer against what was sent: the text, or a voice note's duration."""
    if isinstance(given, int):
        return isinstance(stored, dict) and stored.get("duration") == given
    return bool(stored == given)


def _work(
    sim: Simulation,
    ledger: Ledger,
    ids: dict[str, int],
    expected: Counter[tuple[str, str, str]],
    got: Counter[tuple[str, str, str]],
    failures: list[str],
) -> dict[str, Any]:
    """The meeting after-cycle and lesson study: every acknowledged step is in the database,
    what everyone approved is agreed, and each lesson's reminders and prompts arrived."""
    rec = sim.rec
    trio_ids = {r["ref"]: r["id"] for r in ledger.query("SELECT id, ref FROM trio")}
    bad: list[str] = []

    # Meetings: attendance, reflections, the summary as sent, and agreement.
    held = agreed = should_agree = reflections = 0
    for meeting in rec.held.values():
        rows = ledger.query(
            "SELECT id, status FROM meeting WHERE trio_id = ? AND starts_at = ?",
            (trio_ids[meeting.trio], to_db_time(meeting.starts)),
        )
        if not rows:
            bad.append(f"meeting of {meeting.trio} at {meeting.starts} not stored")
            continue
        mid = rows[0]["id"]
        if meeting.present:
            held += 1
            there = {
                r["person_id"]
                for r in ledger.query(
                    "SELECT person_id FROM meeting_attendance WHERE meeting_id = ?"
                    " AND attended = 1",
                    (mid,),
                )
            }
            if rows[0]["status"] != "held" or there != {ids[ref] for ref in meeting.present}:
                bad.append(f"attendance of {meeting.trio} {meeting.starts:%d %b} not as recorded")
        for ref, take_back in meeting.reflections.items():
            reflections += 1
            row = ledger.query(
                "SELECT take_back FROM meeting_reflection WHERE meeting_id = ? AND person_id = ?",
                (mid, ids[ref]),
            )
            if not row or not _same(_answer(row[0]["take_back"]), take_back):
                bad.append(f"acknowledged meeting reflection not stored: {ref} {meeting.trio}")
        if meeting.focus is None:
            continue
        summary = ledger.query(
            "SELECT id, status, focus, revision FROM summary WHERE meeting_id = ?", (mid,)
        )
        if not summary or meeting.focus not in (summary[0]["focus"], _loose(summary[0]["focus"])):
            bad.append(f"acknowledged summary of {meeting.trio} not stored as sent")
            continue
        sid = summary[0]["id"]
        levels = [
            r["level"]
            for r in ledger.query(
                "SELECT level FROM summary_item WHERE summary_id = ? AND kind = 'barrier'"
                " ORDER BY position",
                (sid,),
            )
        ]
        actions = ledger.query("SELECT COUNT(*) AS n FROM action WHERE summary_id = ?", (sid,))
        if levels != meeting.levels or actions[0]["n"] != meeting.actions:
            bad.append(f"summary of {meeting.trio}: barriers {levels} / {meeting.levels},"
                       f" actions {actions[0]['n']} / {meeting.actions}")  # fmt: skip
        if summary[0]["status"] == "agreed":
            agreed += 1
        members = {p.m.ref for p in sim.people if p.m.trio == meeting.trio and p.joined}
        gone = any(p.blocked_at for p in sim.people if p.m.trio == meeting.trio)
        approved = meeting.approvals.get(meeting.revision, set())
        if not meeting.unsure and not gone and members <= approved:
            should_agree += 1
            if summary[0]["status"] != "agreed" or summary[0]["revision"] != meeting.revision:
                bad.append(f"summary of {meeting.trio} approved by all, but not agreed")
            elif meeting.agreed_seen != members:
                bad.append(f"summary of {meeting.trio} agreed; told {len(meeting.agreed_seen)}"
                           f" of {len(members)}")  # fmt: skip

    # Lesson study: notes, lessons, discussions, the account and its agreement.
    started = taught = discussed = accounts = ls_agreed = notes_checked = 0
    for cycle in rec.cycles.values():
        if not cycle.started:
            continue
        started += 1
        rows = ledger.query(
            "SELECT id, status, round, stage FROM lesson_study WHERE trio_id = ?",
            (trio_ids[cycle.trio],),
        )
        if len(rows) != 1:
            bad.append(f"{len(rows)} lesson-study cycles stored for {cycle.trio}")
            continue
        cid = rows[0]["id"]
        bodies = {
            (r["round"], r["kind"], json.dumps(_answer(r["body"]), sort_keys=True))
            for r in ledger.query(
                "SELECT round, kind, body FROM lesson_study_note WHERE lesson_study_id = ?",
                (cid,),
            )
        }
        for round_, kind, text in cycle.notes:
            notes_checked += 1
            if (round_, kind, json.dumps(text, sort_keys=True)) not in bodies:
                bad.append(f"acknowledged {kind} note not stored: {cycle.trio} round {round_}")
        lessons = {
            r["round"]: r
            for r in ledger.query(
                "SELECT round, starts_at, status, teacher_id FROM research_lesson"
                " WHERE lesson_study_id = ?",
                (cid,),
            )
        }
        for round_, starts in cycle.planned.items():
            lesson = lessons.get(round_)
            if lesson is None or lesson["starts_at"] != to_db_time(starts):
                bad.append(f"research lesson {round_} of {cycle.trio} not as planned")
                continue
            predictions = sum(1 for r, kind, _ in bodies if r == round_ and kind == "prediction")
            if predictions != 9:
                bad.append(f"{cycle.trio} lesson {round_}: {predictions} predictions, not 9")
            if starts <= sim.clock.now and lesson["status"] in ("taught", "discussed"):
                taught += 1
            _lesson_deliveries(sim, cycle, round_, starts, expected, got)
        for round_ in cycle.discussed:
            discussed += 1
            if lessons.get(round_) is None or lessons[round_]["status"] != "discussed":
                bad.append(f"{cycle.trio} lesson {round_} discussed, not stored so")
        if cycle.author is None:
            continue
        accounts += 1
        account = ledger.query(
            "SELECT status, revision FROM lesson_study_account WHERE lesson_study_id = ?", (cid,)
        )
        if not account or account[0]["revision"] != cycle.revision:
            bad.append(f"acknowledged account of {cycle.trio} not stored at its revision")
            continue
        ls_agreed += account[0]["status"] == "agreed"
        members = set(cycle.members)
        if not cycle.unsure and members <= cycle.approvals.get(cycle.revision, set()):
            if account[0]["status"] != "agreed" or rows[0]["status"] != "agreed":
                bad.append(f"account of {cycle.trio} approved by all three, but not agreed")
            elif cycle.agreed_seen != members:
                bad.append(f"account of {cycle.trio} agreed; told {len(cycle.agreed_seen)} of 3")
    failures.extend(bad[:8])
    if len(bad) > 8:
        failures.append(f"… and {len(bad) - 8} more trio-work failures")
    return {
        "meetings held (attendance) / reflections after them": f"{held} / {reflections}",
        "summaries sent / agreed (approved by all: should be agreed)": (
            f"{sum(m.focus is not None for m in rec.held.values())} / {agreed} ({should_agree})"
        ),
        "lesson-study trios / cycles started": f"{len(rec.cycles)} / {started}",
        "research lessons planned / taught / discussed": (
            f"{sum(len(c.planned) for c in rec.cycles.values())} / {taught} / {discussed}"
        ),
        "lesson-study notes acknowledged and checked": notes_checked,
        "accounts written / agreed": f"{accounts} / {ls_agreed}",
        "trio work failures": len(bad),
    }


def _lesson_deliveries(
    sim: Simulation,
    cycle: Any,
    round_: int,
    starts: datetime,
    expected: Counter[tuple[str, str, str]],
    got: Counter[tuple[str, str, str]],
) -> None:
    """Two reminders for each of the three; after the lesson, the teacher's thanks and each
    observer's ask for notes — if the lesson was due before the term's end."""
    if starts > sim.clock.now:
        return
    by_ref = {p.m.ref: p for p in sim.people}
    for ref in cycle.members:
        p = by_ref[ref]
        if p.blocked_at is not None:
            continue
        inbox = sim.api.messages_in(p.id)
        teaching = cycle.teachers.get(round_) == ref
        needles = [("reminders", "⏰ Reminder", 2)]
        needles.append(
            ("after", "Thank you for teaching", 1)
            if teaching
            else ("after", f"Research lesson {round_} has ended", 1)
        )
        for kind, needle, count in needles:
            key = (ref, f"{cycle.trio} lesson {round_}", kind)
            expected[key] = count
            got[key] = sum(
                needle in m.plain_text
                and f"research lesson {round_}" in m.plain_text.lower()
                and abs(utc_of(m) - starts) < timedelta(days=1, hours=2)
                for m in inbox
            )


def _digests(sim: Simulation, ledger: Ledger, days: dict[str, date], failures: list[str]) -> str:
    """Sum the digest's by-authority table for each week and compare with the record."""
    rec = sim.rec
    delivered: Counter[str] = Counter()
    for p in sim.people:
        zone = ZoneInfo(p.zone)
        weeks = {
            iso_week(utc_of(m), zone)
            for m in sim.api.messages_in(p.id)
            if m.plain_text.startswith(PROMPT) and DELIVERED_MARK in m.plain_text
        }
        for week in weeks:
            delivered[week] += 1
    answered = Counter(a.week for a in rec.acked)
    checked = bad = 0
    for week in days:
        rows = ledger.query("SELECT figures FROM digest WHERE week = ?", (week,))
        if not rows:
            failures.append(f"no digest archived for {week}")
            bad += 1
            continue
        by_la = json.loads(rows[0]["figures"]).get("by_la") or {}
        frame = _rows(by_la)
        got_delivered = int(sum(r.get("delivered") or 0 for r in frame))
        got_answered = int(sum(r.get("answered") or 0 for r in frame))
        checked += 1
        slack = rec.unconfirmed[week]
        if got_delivered != delivered[week] or not (
            answered[week] <= got_answered <= answered[week] + slack
        ):
            bad += 1
            failures.append(
                f"digest {week}: delivered {got_delivered} (simulator {delivered[week]}),"
                f" answered {got_answered} (simulator {answered[week]}, +{slack} unconfirmed)"
            )
    return f"{checked} / {bad}"


def _rows(table: Any) -> list[dict[str, Any]]:
    """A figure as stored in the archive (pandas 'split' or 'records' JSON) → rows."""
    if isinstance(table, list):
        return table
    if isinstance(table, dict) and "columns" in table and "data" in table:
        return [dict(zip(table["columns"], row, strict=False)) for row in table["data"]]
    return []


__all__ = ["check", "datetime"]
