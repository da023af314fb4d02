"""Repeats and sub-flows in the engine, as a person answers them: lists with "add another /
done" (tapped or typed in their language), one item per element, a sub-flow run once, Back,
Skip and Cancel inside items, restarts, flow states left by the numbered version, refusals."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.buttons import ButtonSigner
from bot.flows.answers import FreeText, OneOf, Option, Rejected, TextIn, View
from bot.flows.engine import Actor, FlowEngine, Say
from bot.flows.model import Flow, FlowRegistry, Repeat, Step, StepContext, SubFlow, run
from bot.texts import Label
from storage.db import Database, Transaction
from storage.people import PeopleRepo
from storage.store import open_store
from tests.conftest import FakeClock
from tests.test_engine import button, buttons, said

pytestmark = pytest.mark.both_stores

LEVELS = (Option("within", Label(text="within")), Option("beyond", Label(text="beyond")))
completed: list[dict[str, object]] = []
refuse: list[str] = []


async def _record(tx: Transaction, ctx: StepContext) -> Rejected | None:
    if refuse:
        return Rejected(refuse[0])
    completed.append(dict(ctx.answers))
    return None


BARRIER = SubFlow(
    "barrier",
    (
        Step("what", "t/barrier", FreeText(min_len=2), optional=True),
        Step("level", "t/level", OneOf(LEVELS)),
    ),
)
ACTION = SubFlow("action", (Step("what", "t/action", FreeText(min_len=2)),))
PUPIL = SubFlow(
    "pupil",
    (Step("name", "t/pupil", FreeText()), Step("note", "t/note", FreeText(), optional=True)),
)
PLACE = SubFlow(
    "place", (Step("town", "t/town", FreeText()), Step("street", "t/street", FreeText()))
)


def _no_more(index: int) -> Label:
    return Label("no_actions") if index == 0 else Label("no_more_actions")


LISTS = Flow(
    name="lists",
    command="/lists",
    done_template="t/done",
    complete=_record,
    steps=(
        Step("focus", "t/focus", FreeText()),
        Repeat("schools", SubFlow("school", (Step("body", "t/school", FreeText(), optional=True),)),
               3, each=lambda view: view.context.get("schools", [])),
        Repeat("barriers", BARRIER, 3, done=None),
        Repeat("actions", ACTION, 2, done=_no_more),
        Repeat("pupils", PUPIL, 3, min_items=1, more="t/more"),
        run("where", PLACE),
        Step("end", "t/end", FreeText()),
    ),
)  # fmt: skip


@pytest.fixture
async def engine(db: Database, clock: FakeClock) -> FlowEngine:
    completed.clear()
    refuse.clear()
    return FlowEngine(
        db,
        FlowRegistry((LISTS,)),
        ButtonSigner(b"k" * 32),
        expiry=timedelta(hours=72),
        resume_after=timedelta(hours=1),
        clock=clock,
    )


@pytest.fixture
async def actor(db: Database) -> Actor:
    async with db.transaction() as tx:
        person_id = await PeopleRepo.create(tx, telegram_id=42, school_id=None, role="teacher")
    return Actor(person_id, 42, ZoneInfo("Europe/London"))


def asked(out: object) -> Say:
    say = [r for r in out.replies if isinstance(r, Say)]  # type: ignore[attr-defined]
    return say[-1]


async def _to_barriers(engine: FlowEngine, actor: Actor) -> object:
    await engine.start(actor, "lists", {"schools": [[1, "North"], [2, "South"]]})
    out = await engine.handle(actor, TextIn("Feedback"))
    assert said(out) == ["t/school"] and asked(out).context["number"] == 1
    assert asked(out).context["total"] == 2
    out = await engine.handle(actor, TextIn("Sheets"))
    out = await engine.tap(actor, button(out, "skip"))  # South shared nothing
    assert said(out) == ["t/barrier"]
    return out


async def test_a_whole_flow_of_lists_ends_in_lists_of_answers(
    engine: FlowEngine, actor: Actor
) -> None:
    out = await _to_barriers(engine, actor)
    out = await engine.handle(actor, TextIn("No cover"))
    out = await engine.tap(actor, button(out, "within"))
    assert said(out) == ["t/barrier"] and asked(out).context["number"] == 2
    out = await engine.tap(actor, button(out, "skip"))  # skipping barrier 2: no more
    assert said(out) == ["t/action"]
    assert "no_actions" in [b.label.key for b in buttons(out)]
    out = await engine.handle(actor, TextIn("Try the sheets"))
    assert "no_more_actions" in [b.label.key for b in buttons(out)]
    out = await engine.handle(actor, TextIn("Share the survey"))  # the maximum: 2
    assert said(out) == ["t/pupil"]  # at least one pupil: no done offered
    assert "done" not in [b.label.key for b in buttons(out)]
    out = await engine.handle(actor, TextIn("Pupil A"))
    out = await engine.tap(actor, button(out, "skip"))
    assert said(out) == ["t/more"]
    assert [b.label.key for b in buttons(out)][:2] == ["add_another", "done"]
    out = await engine.tap(actor, button(out, "add_another"))
    out = await engine.handle(actor, TextIn("Pupil B"))
    out = await engine.handle(actor, TextIn("quiet"))
    out = await engine.tap(actor, button(out, "done"))
    assert said(out) == ["t/town"]
    out = await engine.handle(actor, TextIn("Leeds"))
    out = await engine.handle(actor, TextIn("High St"))
    out = await engine.handle(actor, TextIn("bye"))
    assert out.finished == "lists"
    assert completed == [
        {
            "focus": "Feedback",
            "schools": [{"body": "Sheets"}, {"body": None}],
            "barriers": [{"what": "No cover", "level": "within"}],
            "actions": [{"what": "Try the sheets"}, {"what": "Share the survey"}],
            "pupils": [{"name": "Pupil A", "note": None}, {"name": "Pupil B", "note": "quiet"}],
            "where": {"town": "Leeds", "street": "High St"},
            "end": "bye",
        }
    ]


@pytest.mark.parametrize("typed", ["done", "Listo", "ya está.", "pronto", "Concluído", "nada mais"])
async def test_done_typed_in_any_of_the_languages_ends_a_list(
    engine: FlowEngine, actor: Actor, typed: str
) -> None:
    await _to_barriers(engine, actor)
    out = await engine.handle(actor, TextIn(typed))
    assert said(out) == ["t/action"]
    out = await engine.handle(actor, TextIn(typed))  # "none agreed", typed
    assert said(out) == ["t/pupil"]
    state = await engine.current(actor)
    assert state is not None and state.answers["barriers"] == []
    assert state.answers["actions"] == []


@pytest.mark.parametrize(
    ("typed", "then"),
    [("add another", "t/pupil"), ("otro", "t/pupil"), ("mais", "t/pupil"), ("yes", "t/pupil"),
     ("done", "t/town"), ("terminado", "t/town"), ("não", "t/town"), ("maybe", "t/more")],
)  # fmt: skip
async def test_the_add_another_question_takes_typed_words(
    engine: FlowEngine, actor: Actor, typed: str, then: str
) -> None:
    await _to_barriers(engine, actor)
    await engine.handle(actor, TextIn("done"))
    await engine.handle(actor, TextIn("done"))
    await engine.handle(actor, TextIn("Pupil A"))
    out = await engine.handle(actor, TextIn("note"))
    assert said(out) == ["t/more"]
    out = await engine.handle(actor, TextIn(typed))
    assert said(out)[-1] == then
    if then == "t/more":
        assert said(out) == ["reasons/add_or_done", "t/more"]


async def test_back_walks_through_items_and_answers_stay_on_the_path_taken(
    engine: FlowEngine, actor: Actor
) -> None:
    out = await _to_barriers(engine, actor)
    out = await engine.handle(actor, TextIn("No cover"))
    out = await engine.tap(actor, button(out, "beyond"))
    out = await engine.handle(actor, TextIn("Buses"))
    out = await engine.tap(actor, button(out, "back"))  # to barrier 2's text, shown again
    assert said(out) == ["t/barrier"] and asked(out).context["current"] == "Buses"
    out = await engine.tap(actor, button(out, "back"))  # into barrier 1
    assert said(out) == ["t/level"] and asked(out).context["current"] == "beyond"
    out = await engine.tap(actor, button(out, "within"))
    out = await engine.tap(actor, button(out, "skip"))  # now barrier 2 ends the list
    out = await engine.tap(actor, button(out, "back"))  # Back after done: the done question
    assert said(out) == ["t/barrier"] and asked(out).context["number"] == 2
    out = await engine.handle(actor, TextIn("done"))
    state = await engine.current(actor)
    assert state is not None and state.answers["barriers"] == [
        {"what": "No cover", "level": "within"}
    ]
    out = await engine.tap(actor, button(out, "cancel"))  # a long flow: asked once
    out = await engine.tap(actor, button(out, "cancel_yes"))
    assert said(out) == ["engine/cancelled"] and await engine.current(actor) is None


async def test_a_restart_resumes_inside_an_item(
    engine: FlowEngine, actor: Actor, db_path: Path, clock: FakeClock
) -> None:
    out = await _to_barriers(engine, actor)
    await engine.handle(actor, TextIn("No cover"))
    await engine.db.close()
    reopened = await open_store(db_path)
    signer, expiry, resume_after = ButtonSigner(b"k" * 32), engine.expiry, engine.resume_after
    fresh = FlowEngine(reopened, engine.registry, signer, expiry=expiry,
                       resume_after=resume_after, clock=clock)  # fmt: skip
    state = await fresh.current(actor)
    assert state is not None and state.step == "barriers/0/level"
    assert state.answers["barriers"] == [{"what": "No cover"}]
    out = await fresh.handle(actor, TextIn("within"))
    assert said(out) == ["t/barrier"] and asked(out).context["number"] == 2
    engine.db = reopened


async def test_a_state_left_by_the_numbered_version_starts_again_kindly(
    engine: FlowEngine, actor: Actor, db: Database
) -> None:
    await engine.start(actor, "lists", {"schools": []})
    old = {"focus": "Feedback", "barrier_0": "No cover", "level_0": "within"}
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE flow_state SET step = 'barrier_1', answers = ?, trail = ?",
            (json.dumps(old), json.dumps(["focus", "barrier_0", "level_0"])),
        )
    out = await engine.handle(actor, TextIn("Buses"))
    assert said(out) == ["engine/restarted", "t/focus"]
    rows = await db.fetchall("SELECT status, answers, context FROM flow_state ORDER BY id")
    assert [r["status"] for r in rows] == ["discarded", "open"]
    assert json.loads(rows[0]["answers"]) == old  # what they typed stays on record
    assert json.loads(rows[1]["context"]) == {"schools": []}  # the same flow, the same context
    out = await engine.handle(actor, TextIn("Feedback"))
    assert said(out) == ["t/barrier"]


async def test_an_old_state_met_by_a_tap_starts_again_too(
    engine: FlowEngine, actor: Actor, db: Database
) -> None:
    out = await engine.start(actor, "lists", {"schools": []})
    async with db.transaction() as tx:
        await tx.execute("UPDATE flow_state SET step = 'action_0_what'")
    out = await engine.tap(actor, button(out, "cancel"))
    assert said(out) == ["engine/restarted", "t/focus"]


async def test_a_refused_completion_ends_the_flow_with_a_kind_reply(
    engine: FlowEngine, actor: Actor, db: Database
) -> None:
    await engine.start(actor, "lists", {"schools": []})
    for text in ("Feedback", "done", "done", "Pupil A", "x", "done", "Leeds", "High St"):
        await engine.handle(actor, TextIn(text))
    refuse.append("not_lead")
    out = await engine.handle(actor, TextIn("bye"))
    assert said(out) == ["refused/not_lead"] and out.finished is None
    reply = asked(out)
    assert reply.context["title"] == Label("flow_lists") and reply.context["command"] == "/lists"
    assert await db.fetchval("SELECT status FROM flow_state") == "cancelled"
    assert completed == []


def test_a_single_sub_flow_has_exactly_one_item() -> None:
    with pytest.raises(ValueError, match="exactly one item"):
        Repeat("x", PLACE, 2, single=True)


def test_views_inside_an_item_see_the_item_and_the_whole_flow() -> None:
    from datetime import UTC, datetime

    from bot.flows.positions import locate, view_at

    place = locate(LISTS, "schools/1/body")
    assert place is not None and place.repeat is not None and place.index == 1
    answers = {"focus": "F", "schools": [{"body": "a"}, {"body": "b"}]}
    context = {"schools": [[1, "North"], [2, "South"]]}
    view = view_at(place, answers, context, datetime(2026, 12, 1, tzinfo=UTC), ZoneInfo("UTC"))
    assert view.answers == {"body": "b"} and view.item == [2, "South"]
    assert isinstance(view.outer, View) and view.outer.answers["focus"] == "F"
    assert locate(LISTS, "barrier_1") is None and locate(LISTS, "schools/9/body") is None
    assert locate(LISTS, "pupils/0/+") is not None and locate(LISTS, "barriers/0/+") is None


# --- what the flows that repeat hand their hooks ------------------------------------------
def test_the_summary_draft_keeps_the_shape_save_draft_takes() -> None:
    from bot.flows.summary import draft
    from bot.summaries.agreement import MORE_DONE, NO_ACTIONS

    answers = {
        "focus": "F",
        "previous": [{"status": "done"}, {"status": None}],
        "shared": [{"body": "sheets"}],
        "evidence": None,
        "barriers": [{"barrier": "cover", "level": "within", "school": "3"}],
        "actions": [{"what": "try", "who": "7", "due": "2026-12-15"}],
    }
    assert draft(answers) == {
        "focus": "F",
        "evidence": None,
        "prev_0": "done",
        "prev_1": None,
        "shared_0": "sheets",
        "barrier_0": "cover",
        "level_0": "within",
        "barrier_school_0": "3",
        "action_0_what": "try",
        "action_0_who": "7",
        "action_0_due": "2026-12-15",
        "action_1_what": MORE_DONE,
    }
    assert draft({"focus": "F", "actions": []})["action_0_what"] == NO_ACTIONS


def test_case_pupils_settle_their_pseudonyms_in_order() -> None:
    from bot.flows.lesson_study_answers import by_pair, case_pupils, pairs, per_pupil

    answers = {
        "pupils": [
            {"name": "Maria", "check": "use:Maria", "group": "new to English"},
            {"name": "Emma", "check": "retype", "group": "quiet"},  # retyped, then kept
            {"name": "P3"},  # not finished: no group
        ]
    }
    assert case_pupils(answers) == [("Pupil A", "new to English"), ("Emma", "quiet")]
    assert pairs(2, 2) == [[0, 0], [0, 1], [1, 0], [1, 1]]
    notes = {"predict": [{"note": "a"}, {"note": None}, {"note": "c"}]}
    assert by_pair(notes, "predict", 2, 2) == {(0, 0): "a", (0, 1): None, (1, 0): "c"}
    assert per_pupil({"talk": [{"note": None}, {"note": "b"}]}, "talk") == {0: None, 1: "b"}
