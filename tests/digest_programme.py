"""A synthetic programme for the digest tests and bench/digest.py: schools in local
authorities, trios of three LAs, teachers with consent, weekly reflections, and (optionally)
meetings, summaries and lesson study in the fixture schema the trio-work sources read."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.digest.compile import monday_of, shift_week
from bot.scheduling.timing import local_instant
from storage.db import Database, Transaction, from_db_time, to_db_time

PHRASES = (
    "exit tickets at the end of the lesson",
    "mini whiteboards for every pupil",
    "retrieval practice on Mondays",
    "talk partners before writing",
    "worked examples with fading",
    "reading aloud to the class",
    "parental engagement evenings",
    "vocabulary walls in maths",
    "quieter pupils spoke more",
    "attendance of disadvantaged pupils",
)
ZONE = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Seeded:
    teachers: int
    researchers: list[int]
    trios: int
    reflections: int
    # What was made, counted as it was made (not read back): bench/digest.py checks the
    # digests and exports against it. Per week (YYYY-Www), each a Counter of the keys below;
    # "consenting" is about the person (or, for trio work, the summary's author) whose
    # latest consent says yes.
    #   delivered, answered, voice                        prompts to consenting teachers
    #   delivered_in_trios, answered_in_trios             the same, of teachers in a trio
    #   reflections, reflection_voice                     answers (all, consenting or not)
    #   meetings, meetings_held                           meetings (none is cancelled)
    #   summaries, summaries_consenting                   summaries agreed in the week
    #   <kind>, <kind>_consenting                         their parts: focus, shared,
    #                                                     barrier, question, action
    weeks: dict[str, Counter[str]] = field(default_factory=dict)
    schools: int = 0
    las: int = 0
    in_trios: int = 0  # consenting teachers who are in a trio (the digests' "people")


async def seed(
    db: Database,
    *,
    las: int = 3,
    schools: int = 6,
    teachers_per_school: int = 3,
    weeks: int = 4,
    last_week: str = "2026-W47",
    answer_rate: float = 0.6,
    withdrawn_share: float = 0.0,
    trio_work: bool = False,
    seed_value: int = 7,
) -> Seeded:
    """Fill an empty, migrated database; everything is dated within `weeks` weeks up to
    `last_week` (programme zone Europe/London)."""
    rng = random.Random(seed_value)
    stamp = to_db_time(datetime(2026, 1, 5, tzinfo=UTC))
    people: list[tuple[object, ...]] = []
    roles: list[tuple[int, str]] = []
    consents: list[tuple[int, int, str]] = []
    members: list[tuple[int, int, int]] = []
    reflections: list[tuple[object, ...]] = []
    trio_of_school = {s: s // 3 + 1 for s in range(schools - schools % 3)}
    person_id = 0
    teacher_ids: list[int] = []
    for s in range(schools):
        for k in range(teachers_per_school):
            person_id += 1
            teacher_ids.append(person_id)
            people.append((person_id, f"T{person_id}", 10_000 + person_id, s + 1, stamp))
            lead = k == 0 and s % 3 == 0 and s in trio_of_school
            roles.append((person_id, "trio_lead" if lead else "teacher"))
            given = 0 if rng.random() < withdrawn_share else 1
            consents.append((person_id, 1, stamp))
            if given == 0:
                consents.append((person_id, 0, stamp))
            if s in trio_of_school:
                members.append((trio_of_school[s], person_id, int(lead)))
    researchers = []
    for _ in range(3):
        person_id += 1
        researchers.append(person_id)
        people.append((person_id, f"R{person_id}", 10_000 + person_id, None, stamp))
        roles.append((person_id, "researcher"))
        consents.append((person_id, 1, stamp))
    week_names = [shift_week(last_week, -k) for k in range(weeks - 1, -1, -1)]
    made: dict[str, Counter[str]] = {week: Counter() for week in week_names}
    withdrawn = {c[0] for c in consents if c[1] == 0}
    in_trio = {m[1] for m in members}
    for week in week_names:
        tuesday = monday_of(week) + timedelta(days=1)
        delivered = local_instant(tuesday, time(15, 45), ZONE)
        for pid in teacher_ids:
            answers = rng.random() < answer_rate
            voice = answers and rng.random() < 0.05
            count = made[week]
            count.update(reflections=answers, reflection_voice=voice)
            if pid not in withdrawn:
                count.update(delivered=1, answered=answers, voice=voice)
                if pid in in_trio:
                    count.update(delivered_in_trios=1, answered_in_trios=answers)
            if answers:
                if voice:
                    answer = json.dumps({"voice": f"v{pid}{week}", "duration": 30})
                else:
                    answer = json.dumps(
                        f"This week we tried {rng.choice(PHRASES)}; {rng.choice(PHRASES)}."
                    )
                answered = to_db_time(delivered + timedelta(hours=rng.randint(1, 60)))
                reflections.append(
                    (pid, "practice", week, "answered", answer, to_db_time(delivered), answered)
                )
            else:
                reflections.append(
                    (pid, "practice", week, "delivered", None, to_db_time(delivered), None)
                )
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO local_authority (id, name) VALUES (?, ?)",
            [(i + 1, f"Authority {chr(65 + i)}") for i in range(las)],
        )
        await tx.executemany(
            "INSERT INTO school (id, ref, name, local_authority_id, phase) VALUES (?, ?, ?, ?, ?)",
            [
                (s + 1, f"S{s + 1}", f"School {s + 1}", s % las + 1, "primary")
                for s in range(schools)
            ],
        )
        trio_count = len(set(trio_of_school.values()))
        await tx.executemany(
            "INSERT INTO trio (id, ref, kind, name, created_at) VALUES (?, ?, 'schools', ?, ?)",
            [(t, f"TR{t}", f"Trio {t}", stamp) for t in range(1, trio_count + 1)],
        )
        await tx.executemany(
            "INSERT INTO trio_school (trio_id, school_id) VALUES (?, ?)",
            [(t, s + 1) for s, t in trio_of_school.items()],
        )
        await tx.executemany(
            "INSERT INTO person (id, ref, telegram_id, school_id, status, onboarded_at,"
            " language, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, 'en', ?, ?)",
            [(*p, p[4], p[4]) for p in people],
        )
        await tx.executemany("INSERT INTO person_role VALUES (?, ?)", roles)
        await tx.executemany(
            "INSERT INTO consent (person_id, given, version, recorded_at) VALUES (?, ?, '1', ?)",
            consents,
        )
        await tx.executemany(
            "INSERT INTO trio_member (trio_id, person_id, is_lead, joined_at) VALUES (?, ?, ?, ?)",
            [(*m, stamp) for m in members],
        )
        await tx.executemany(
            "INSERT INTO reflection (person_id, prompt, period, status, answer, delivered_at,"
            " answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            reflections,
        )
        if trio_work:
            leads = {t: p for t, p, lead in members if lead}
            await _trio_work(tx, rng, week_names, trio_count, leads, made, withdrawn)
        await ids_past_given(tx)
    return Seeded(
        len(teacher_ids),
        researchers,
        trio_count,
        len(reflections),
        weeks=made,
        schools=schools,
        las=las,
        in_trios=len(in_trio - withdrawn),
    )


async def _trio_work(
    tx: Transaction,
    rng: random.Random,
    weeks: list[str],
    trios: int,
    leads: dict[int, int],
    made: dict[str, Counter[str]],
    withdrawn: set[int],
) -> None:
    meetings: list[tuple[object, ...]] = []
    summaries: list[tuple[object, ...]] = []
    items: list[tuple[object, ...]] = []
    actions: list[tuple[object, ...]] = []

    def said(text: str) -> str:
        return json.dumps(text)

    for index, week in enumerate(weeks):
        thursday = local_instant(monday_of(week) + timedelta(days=3), time(16, 0), ZONE)
        stamp = to_db_time(thursday - timedelta(days=7))
        for trio in range(1, trios + 1):
            if (trio + index) % 4:
                continue  # each trio meets every fourth week
            meeting_id = len(meetings) + 1
            held = rng.random() < 0.85
            focus = f"Focus: {rng.choice(PHRASES)}"
            meetings.append(
                (meeting_id, trio, to_db_time(thursday), "Europe/London", focus,
                 "held" if held else "scheduled", stamp, stamp)
            )  # fmt: skip
            made[week].update(meetings=1, meetings_held=held)
            if not held:
                continue
            summary_id = len(summaries) + 1
            agreed = rng.random() < 0.8
            first_item, first_action = len(items), len(actions)
            written = to_db_time(thursday + timedelta(hours=2))
            agreed_at = to_db_time(thursday + timedelta(hours=20)) if agreed else None
            summaries.append(
                (summary_id, meeting_id, trio, leads.get(trio), "agreed" if agreed else "draft",
                 focus, written, to_db_time(thursday + timedelta(days=5)), agreed_at,
                 "all" if agreed else None, written, written)
            )  # fmt: skip
            for position in range(3):
                items.append(
                    (summary_id, "shared", None, said(f"We shared {rng.choice(PHRASES)}"), position)
                )
            arena = rng.choice(("within", "between", "beyond"))
            items.append((summary_id, "barrier", arena, said(f"Barrier: {rng.choice(PHRASES)}"), 3))
            for position in range(2):
                actions.append(
                    (trio, summary_id, said(f"Try {rng.choice(PHRASES)} by Friday"),
                     (thursday + timedelta(days=8)).date().isoformat(),
                     rng.choice(("open", "done", "in_progress")), position, written, written)
                )  # fmt: skip
            if rng.random() < 0.3:
                items.append(
                    (summary_id, "question", None, said("What does research say about this?"), 4)
                )
            if agreed:  # only an agreed summary reaches a digest
                consenting = leads.get(trio) not in withdrawn
                parts = Counter(["summaries", "focus", *(i[1] for i in items[first_item:])])
                parts["action"] += len(actions) - first_action
                made[week].update(parts)
                if consenting:
                    made[week].update({f"{k}_consenting": n for k, n in parts.items()})
    await tx.executemany(
        "INSERT INTO meeting (id, trio_id, starts_at, time_zone, focus, status, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        meetings,
    )
    await tx.executemany(
        "INSERT INTO summary (id, meeting_id, trio_id, author_id, status, focus, circulated_at,"
        " agree_by, agreed_at, agreed_how, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        summaries,
    )
    await tx.executemany(
        "INSERT INTO summary_item (summary_id, kind, level, body, position) VALUES (?, ?, ?, ?, ?)",
        items,
    )
    await tx.executemany(
        "INSERT INTO action (trio_id, summary_id, what, due_on, status, position, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        actions,
    )


async def agreed_summary(
    tx: Transaction,
    trio_id: int,
    author_id: int,
    agreed_at: datetime,
    focus: str,
    shared: tuple[str, ...] = (),
) -> int:
    """A meeting held an hour before `agreed_at`, and its summary agreed by all then: the
    trio's agreed work as the summary flow leaves it (the digest reads only agreed work)."""
    held, stamp = to_db_time(agreed_at - timedelta(hours=1)), to_db_time(agreed_at)
    meeting_id = await tx.execute(
        "INSERT INTO meeting (trio_id, starts_at, time_zone, focus, status, created_at,"
        " updated_at) VALUES (?, ?, 'Europe/London', ?, 'held', ?, ?)",
        (trio_id, held, focus, held, held),
    )
    summary_id = await tx.execute(
        "INSERT INTO summary (meeting_id, trio_id, author_id, status, focus, circulated_at,"
        " agree_by, agreed_at, agreed_how, created_at, updated_at)"
        " VALUES (?, ?, ?, 'agreed', ?, ?, ?, ?, 'all', ?, ?)",
        (meeting_id, trio_id, author_id, json.dumps(focus), held, stamp, stamp, held, stamp),
    )
    await tx.executemany(
        "INSERT INTO summary_item (summary_id, kind, level, body, position)"
        " VALUES (?, 'shared', NULL, ?, ?)",
        [(summary_id, json.dumps(text), position) for position, text in enumerate(shared)],
    )
    return summary_id


@dataclass(frozen=True)
class ResearchWork:
    cycle: int
    members: tuple[int, int, int]  # the cycle's teachers: the lead of trio 1, then two more
    owner: int  # owns the first action of every summary of trio 1


# The tables the seed gives ids of its own (the people and trios the tests name by number).
GIVEN_IDS = ("local_authority", "school", "trio", "person", "meeting", "summary")


async def ids_past_given(tx: Transaction) -> None:
    """On PostgreSQL, move each identity past the ids the seed gave, so that rows the bot
    adds later get new ones (SQLite's next rowid is past the largest already)."""
    if tx.dialect != "postgresql":
        return
    for table in GIVEN_IDS:
        await tx.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"
            " HAVING COUNT(*) > 0"
        )


def later(stored: str, **step: float) -> str:
    """A stored instant (UTC text) moved on by `step`, stored the same way."""
    moment = from_db_time(stored)
    assert moment is not None
    return to_db_time(moment + timedelta(**step))


async def research_work(db: Database, week: str) -> ResearchWork:
    """On top of `seed(..., trio_work=True)`: action history for the seeded actions (created,
    then marked), owners for trio 1's first actions; and in `week`, a held meeting of trio 1
    with an agreed summary and two actions (person 2's, done; the whole trio's, in progress),
    attendance at every held meeting, and one lesson-study cycle of trio 1 with a note of
    each kind, a post-lesson discussion and an agreed account."""
    wednesday = local_instant(monday_of(week) + timedelta(days=2), time(10, 0), ZONE)

    def at(hours: float) -> str:
        return to_db_time(wednesday + timedelta(hours=hours))

    members = (1, 2, 3)
    async with db.transaction() as tx:
        await tx.execute("UPDATE action SET owner_id = 2 WHERE trio_id = 1 AND position = 0")
        await tx.execute(
            "INSERT INTO action_event (action_id, status, changed_by, changed_at, how)"
            " SELECT x.id, 'open', s.author_id, x.created_at, 'created'"
            " FROM action x JOIN summary s ON s.id = x.summary_id"
        )
        # Marked a day after each was made: the instants reckoned here, the same on both stores.
        marked = await tx.fetchall(
            "SELECT x.id, x.status, COALESCE(x.owner_id, s.author_id), x.created_at"
            " FROM action x JOIN summary s ON s.id = x.summary_id WHERE x.status != 'open'"
        )
        await tx.executemany(
            "INSERT INTO action_event (action_id, status, changed_by, changed_at, how)"
            " VALUES (?, ?, ?, ?, 'marked')",
            [(r[0], r[1], r[2], later(r[3], days=1)) for r in marked],
        )
        meeting = await tx.execute(
            "INSERT INTO meeting (trio_id, starts_at, time_zone, focus, status, created_at,"
            " updated_at) VALUES (1, ?, 'Europe/London', 'Fractions', 'held', ?, ?)",
            (at(6), at(-100), at(-100)),
        )
        summary = await tx.execute(
            "INSERT INTO summary (meeting_id, trio_id, author_id, status, focus, circulated_at,"
            " agree_by, agreed_at, agreed_how, created_at, updated_at)"
            " VALUES (?, 1, 1, 'agreed', ?, ?, ?, ?, 'all', ?, ?)",
            (meeting, json.dumps("Fractions with pictures"), at(8), at(80), at(24), at(8), at(8)),
        )
        events = []
        for position, (owner, what, status) in enumerate(
            ((2, "Bring the picture cards", "done"), (None, "Visit Castle school", "in_progress"))
        ):
            action = await tx.execute(
                "INSERT INTO action (trio_id, summary_id, what, owner_id, due_on, status,"
                " position, created_at, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                (summary, json.dumps(what), owner, (wednesday + timedelta(days=14)).date()
                 .isoformat(), status, position, at(8), at(26)),
            )  # fmt: skip
            events += [(action, "open", 1, at(8), "created"), (action, status, owner or 1, at(26),
                       "marked" if owner else "reviewed")]  # fmt: skip
        await tx.executemany(
            "INSERT INTO action_event (action_id, status, changed_by, changed_at, how)"
            " VALUES (?, ?, ?, ?, ?)",
            events,
        )
        present = await tx.fetchall(
            "SELECT m.id, tm.person_id, m.starts_at"
            " FROM meeting m JOIN trio_member tm ON tm.trio_id = m.trio_id"
            " WHERE m.status = 'held'"
        )
        await tx.executemany(
            "INSERT INTO meeting_attendance (meeting_id, person_id, attended, recorded_at)"
            " VALUES (?, ?, ?, ?)",
            [(r[0], r[1], int(r[1] % 3 != 0), later(r[2], hours=1)) for r in present],
        )
        cycle = await tx.execute(
            "INSERT INTO lesson_study (trio_id, started_by, subject, class_group, focus_what,"
            " focus_who, stage, round, status, stage_since, created_at, agreed_at)"
            " VALUES (1, 1, 'Maths', '7B', 'fractions', 'pupils new to English', 'agreed', 1,"
            " 'agreed', ?, ?, ?)",
            (at(30), at(-48), at(30)),
        )
        for position, person in enumerate(members, start=1):
            await tx.execute(
                "INSERT INTO lesson_study_member VALUES (?, ?, ?)", (cycle, person, position)
            )
        pupils = [
            await tx.execute(
                "INSERT INTO lesson_study_pupil (lesson_study_id, position, pseudonym,"
                " typical_of) VALUES (?, ?, ?, 'new to English')",
                (cycle, position, f"Pupil {name}"),
            )
            for position, name in ((1, "A"), (2, "B"))
        ]
        notes = [
            (0, "student_voice", 1, None, None, "They like working in pairs", 0),
            (1, "prediction", 1, pupils[0], 0, "Pupil A will wait to be asked", 1),
            (1, "observation", 2, pupils[0], 0, "A answered without being asked", 3),
            (1, "observation", 3, pupils[1], 1, {"voice": "file-3", "duration": 41}, 3),
            (1, "interview", 2, pupils[0], None, "A said the pictures helped", 4),
        ]
        for round_, kind, person, pupil, moment, body, hours in notes:
            await tx.execute(
                "INSERT INTO lesson_study_note (lesson_study_id, round, kind, person_id,"
                " pupil_id, moment, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (cycle, round_, kind, person, pupil, moment, json.dumps(body), at(hours)),
            )
        await tx.execute(
            "INSERT INTO research_lesson (lesson_study_id, round, teacher_id, starts_at,"
            " ends_at, outline, moments, discussion, changes, status)"
            " VALUES (?, 1, 1, ?, ?, ?, ?, ?, ?, 'discussed')",
            (cycle, at(2), at(3), json.dumps("Fractions with pictures"),
             json.dumps(["start", "pairs"]), json.dumps("A did better than we predicted"),
             json.dumps(["More wait time", "Pictures first"])),
        )  # fmt: skip
        await tx.execute(
            "INSERT INTO lesson_study_account (lesson_study_id, author_id, learned, changed,"
            " advice, status, created_at, updated_at, agreed_at)"
            " VALUES (?, 1, ?, ?, ?, 'agreed', ?, ?, ?)",
            (cycle, json.dumps("Pictures help"), json.dumps("We wait longer"),
             json.dumps("Try it with a partner school"), at(20), at(20), at(30)),
        )  # fmt: skip
        await _partnership(tx, summary, at)
    return ResearchWork(cycle, members, 2)


RESEARCHER = 19  # the first researcher of `seed`'s default programme (18 teachers)


async def _partnership(tx: Transaction, summary: int, at: Callable[[float], str]) -> None:
    """The partnership loop in research_work's week: the summary's question (asked by its
    author, person 1), answered by RESEARCHER a day later and shared; a question from the
    account, still open; and another researcher's comment on the summary, not shared."""
    item = await tx.execute(
        "INSERT INTO summary_item (summary_id, kind, position, body, school_id)"
        " VALUES (?, 'question', 0, ?, 1)",
        (summary, json.dumps("Is there research on fractions with pictures?")),
    )
    asked = await tx.execute(
        "INSERT INTO research_question (trio_id, summary_id, summary_item_id, body, asked_by,"
        " asked_at) VALUES (1, ?, ?, ?, 1, ?)",
        (summary, item, json.dumps("Is there research on fractions with pictures?"), at(24)),
    )
    account = await tx.fetchval("SELECT MAX(id) FROM lesson_study_account")
    await tx.execute(
        "INSERT INTO research_question (trio_id, account_id, body, asked_by, asked_at)"
        " VALUES (1, ?, ?, 1, ?)",
        (account, json.dumps({"voice": "q-voice", "duration": 12}), at(30)),
    )
    await tx.execute(
        "INSERT INTO research_reply (kind, trio_id, question_id, author_id, body, shareable,"
        " sent_at) VALUES ('answer', 1, ?, ?, ?, 1, ?)",
        (asked, RESEARCHER, json.dumps("Yes: start from the EEF guidance"), at(48)),
    )
    await tx.execute("UPDATE research_question SET status = 'answered' WHERE id = ?", (asked,))
    await tx.execute(
        "INSERT INTO research_reply (kind, trio_id, summary_id, author_id, body, sent_at)"
        " VALUES ('comment', 1, ?, ?, ?, ?)",
        (summary, RESEARCHER + 1, json.dumps("What would show it works for the case pupils?"),
         at(50)),
    )  # fmt: skip
