"""The flow engine on its own: no Telegram, a real database, a controllable clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.buttons import ButtonSigner
from bot.flows.answers import (
    Accepted,
    DateAnswer,
    FreeText,
    ManyOf,
    OneOf,
    Option,
    OtherIn,
    Parsed,
    Rejected,
    TextIn,
    TimeAnswer,
    View,
    VoiceIn,
    YesNo,
)
from bot.flows.engine import Actor, Button, FlowEngine, Outcome, Say, Tapped, Toast
from bot.flows.model import Flow, FlowRegistry, Step, StepContext
from bot.texts import Label
from storage.db import Database, Transaction
from storage.people import PeopleRepo
from storage.store import open_store
from tests.conftest import FakeClock

pytestmark = pytest.mark.both_stores

COLOURS = (Option("red", Label(text="Red")), Option("blue", Label(text="Blue")))
completed: list[dict[str, object]] = []


async def _record(tx: Transaction, ctx: StepContext) -> None:
    completed.append(dict(ctx.answers))


def _one_to_ten(text: str) -> Parsed:
    if not text.strip().isdigit():
        return Rejected("number_format")
    number = int(text)
    return Accepted(number) if 1 <= number <= 10 else Rejected("number_range", {"max": 10})


def _after_likes(view: View) -> str | None:
    return "why" if view.answers.get("likes") else "number"


DEMO = Flow(
    name="demo",
    command="/demo",
    done_template="demo/done",
    complete=_record,
    steps=(
        Step("colour", "demo/colour", OneOf(COLOURS)),
        Step("likes", "demo/likes", YesNo(), next=_after_likes),
        Step("why", "demo/why", FreeText(max_len=50), optional=True),
        Step("number", "demo/number", OneOf((), typed=_one_to_ten)),
        Step("day", "demo/day", DateAnswer(not_past=True)),
        Step("at", "demo/at", TimeAnswer()),
        Step("tags", "demo/tags", ManyOf(COLOURS, min_picks=1)),
    ),
)
OTHER = Flow(
    name="other",
    command="/other",
    done_template="other/done",
    steps=(Step("only", "other/only", FreeText()),),
)


@pytest.fixture
async def engine(db: Database, clock: FakeClock) -> FlowEngine:
    completed.clear()
    return FlowEngine(
        db,
        FlowRegistry((DEMO, OTHER)),
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


def said(outcome: Outcome) -> list[str]:
    return [r.template for r in outcome.replies if isinstance(r, Say)]


def buttons(outcome: Outcome) -> list[Button]:
    for reply in reversed(outcome.replies):
        keyboard = reply.keyboard if isinstance(reply, Say | Tapped) else None
        if keyboard:
            return [b for row in keyboard for b in row]
    raise AssertionError("no keyboard in outcome")


def button(outcome: Outcome, label: str) -> str:
    for b in buttons(outcome):
        if label in (b.label.text, b.label.key):
            return b.data
    raise AssertionError(f"no {label!r} in {[b.label for b in buttons(outcome)]}")


async def test_a_whole_flow_with_branching_and_every_answer_type(
    engine: FlowEngine, actor: Actor
) -> None:
    out = await engine.start(actor, "demo")
    assert said(out) == ["demo/colour"]
    out = await engine.tap(actor, button(out, "Blue"))
    assert isinstance(out.replies[0], Tapped) and said(out) == ["demo/likes"]
    out = await engine.handle(actor, TextIn("yes"))
    assert said(out) == ["demo/why"]
    out = await engine.handle(actor, VoiceIn("voice-file-1", 12))
    assert said(out) == ["demo/number"]
    out = await engine.handle(actor, TextIn("11"))
    assert said(out) == ["reasons/number_range", "demo/number"]
    out = await engine.handle(actor, TextIn("7"))
    out = await engine.handle(actor, TextIn("2026-12-01"))
    out = await engine.handle(actor, TextIn("4pm"))
    assert said(out) == ["demo/tags"]
    out = await engine.tap(actor, button(out, "Red"))
    out = await engine.tap(actor, button(out, "done"))
    assert out.finished == "demo"
    assert completed == [
        {
            "colour": "blue",
            "likes": True,
            "why": {"voice": "voice-file-1", "duration": 12},
            "number": 7,
            "day": "2026-12-01",
            "at": "16:00",
            "tags": ["red"],
        }
    ]
    assert await engine.current(actor) is None


async def test_invalid_answers_are_reasked_with_the_reason_and_change_nothing(
    engine: FlowEngine, actor: Actor, db: Database
) -> None:
    await engine.start(actor, "demo")
    before = await db.fetchone("SELECT step, answers, seq FROM flow_state")
    for given, reason in [
        (TextIn("purple"), "reasons/pick_one"),
        (OtherIn("sticker"), "reasons/wrong_kind"),
        (VoiceIn("f", 3), "reasons/wrong_kind"),
    ]:
        out = await engine.handle(actor, given)
        assert said(out) == [reason, "demo/colour"]
    after = await db.fetchone("SELECT step, answers, seq FROM flow_state")
    assert tuple(before) == tuple(after)  # type: ignore[arg-type]


async def test_overlong_text_and_stickers_in_a_text_step(engine: FlowEngine, actor: Actor) -> None:
    await engine.start(actor, "demo")
    await engine.handle(actor, TextIn("red"))
    await engine.handle(actor, TextIn("yes"))
    out = await engine.handle(actor, TextIn("x" * 10_000))
    # Kept as a draft (this step takes no parts), and they are asked to shorten it.
    assert said(out) == ["engine/too_long"]
    reason = out.replies[0]
    assert isinstance(reason, Say) and reason.context == {"length": 10_000, "max": 50, "parts": 0}
    kept = await engine.current(actor)
    assert kept is not None and kept.context["_draft"] == {"step": "why", "text": "x" * 10_000}
    assert [b.label.key for b in buttons(out)] == ["shorten"]  # no parts for this step
    out = await engine.handle(actor, OtherIn("sticker"))
    assert said(out) == ["reasons/wrong_kind_text", "demo/why"]
    state = await engine.current(actor)
    assert state is not None and state.step == "why"
    # A shorter version takes the draft's place: the step is answered, the draft let go.
    await engine.handle(actor, TextIn("Because it is calm."))
    state = await engine.current(actor)
    assert state is not None and state.answers["why"] == "Because it is calm."
    assert "_draft" not in state.context


async def test_back_skip_and_cancel(engine: FlowEngine, actor: Actor, db: Database) -> None:
    out = await engine.start(actor, "demo")
    out = await engine.tap(actor, button(out, "Red"))
    out = await engine.tap(actor, button(out, "yes"))
    assert said(out) == ["demo/why"]
    out = await engine.tap(actor, button(out, "back"))
    assert said(out) == ["demo/likes"]
    prompt = next(r for r in out.replies if isinstance(r, Say))
    assert prompt.context["current"] is True  # the earlier answer is shown
    out = await engine.tap(actor, button(out, "yes"))
    out = await engine.tap(actor, button(out, "skip"))
    assert said(out) == ["demo/number"]
    state = await engine.current(actor)
    assert state is not None and state.answers["why"] is None
    # A flow of more than three questions asks once before cancelling.
    out = await engine.tap(actor, button(out, "cancel"))
    assert said(out) == [] and await engine.current(actor) is not None
    assert [b.label.key for b in buttons(out)] == ["cancel_yes", "cancel_no"]
    out = await engine.tap(actor, button(out, "cancel_yes"))
    assert said(out) == ["engine/cancelled"]
    assert await engine.current(actor) is None
    status = await db.fetchval("SELECT status FROM flow_state")
    assert status == "cancelled"


async def test_skip_is_refused_where_a_step_is_not_optional(
    engine: FlowEngine, actor: Actor
) -> None:
    out = await engine.start(actor, "demo")
    labels = [b.label.key for b in buttons(out)]
    assert "skip" not in labels and "cancel" in labels


async def test_stale_replayed_forged_and_foreign_buttons_change_nothing(
    engine: FlowEngine, actor: Actor, db: Database
) -> None:
    out = await engine.start(actor, "demo")
    red = button(out, "Red")
    out = await engine.tap(actor, red)
    snapshot = tuple(await db.fetchone("SELECT step, answers, seq FROM flow_state"))  # type: ignore[arg-type]
    replay = await engine.tap(actor, red)
    assert isinstance(replay.replies[0], Toast) and replay.replies[0].label.key == "button_stale"
    # …and the question the flow is at is asked again, its buttons for the current seq.
    again = replay.replies[-1]
    assert isinstance(again, Say) and again.ask and again.keyboard == out.replies[-1].keyboard  # type: ignore[union-attr]
    forged = red.replace(":o0~", ":o1~")
    assert (await engine.tap(actor, forged)).replies[0] == Toast(Label("button_forged"), alert=True)
    assert (await engine.tap(actor, "f:1:0:o0")).replies[0].label.key == "button_forged"  # type: ignore[union-attr]
    async with db.transaction() as tx:
        other = await PeopleRepo.create(tx, telegram_id=43, school_id=None, role="teacher")
    stranger = Actor(other, 43, actor.tz)
    yes = button(out, "yes")
    foreign = await engine.tap(stranger, yes)
    assert foreign.replies[0].label.key == "button_not_yours"  # type: ignore[union-attr]
    assert tuple(await db.fetchone("SELECT step, answers, seq FROM flow_state")) == snapshot  # type: ignore[arg-type]


async def test_state_survives_a_new_engine_on_the_same_database(
    engine: FlowEngine, actor: Actor, db_path: Path, clock: FakeClock
) -> None:
    await engine.start(actor, "demo")
    await engine.handle(actor, TextIn("blue"))
    await engine.db.close()
    reopened = await open_store(db_path)
    fresh = FlowEngine(
        reopened,
        engine.registry,
        ButtonSigner(b"k" * 32),
        expiry=engine.expiry,
        resume_after=engine.resume_after,
        clock=clock,
    )
    state = await fresh.current(actor)
    assert state is not None and state.step == "likes" and state.answers == {"colour": "blue"}
    out = await fresh.handle(actor, TextIn("no"))
    assert said(out) == ["demo/number"]
    engine.db = reopened


async def test_left_open_flow_is_offered_back_and_the_message_kept(
    engine: FlowEngine, actor: Actor, clock: FakeClock
) -> None:
    await engine.start(actor, "demo")
    await engine.handle(actor, TextIn("red"))
    clock.advance(hours=3)
    out = await engine.handle(actor, TextIn("yes"))
    assert said(out) == ["engine/resume"]
    state = await engine.current(actor)
    assert state is not None and state.held_input == {"inputs": [{"text": "yes"}]}
    out = await engine.tap(actor, button(out, "continue"))
    assert said(out) == ["demo/why"]  # "yes" answered the waiting question
    state = await engine.current(actor)
    assert state is not None and state.answers["likes"] is True


async def test_several_held_messages_are_all_applied_with_one_reply(
    engine: FlowEngine, actor: Actor, clock: FakeClock
) -> None:
    await engine.start(actor, "demo")
    await engine.handle(actor, TextIn("red"))
    clock.advance(hours=3)
    await engine.handle(actor, TextIn("hello"))
    out = await engine.handle(actor, TextIn("again"))
    out = await engine.tap(actor, button(out, "continue"))
    # Both refused, but the refusal and the question come once: a burst of four messages
    # in one chat is more than Telegram lets through.
    assert len(said(out)) <= 2 and said(out)[-1] == "demo/likes"
    state = await engine.current(actor)
    assert state is not None and state.step == "likes"
    # Answers typed while away still all land, in order; only the last one is replied to.
    clock.advance(hours=3)
    await engine.handle(actor, TextIn("yes"))
    out = await engine.handle(actor, TextIn("Pupils talk more"))
    out = await engine.tap(actor, button(out, "continue"))
    assert said(out) == ["demo/number"]
    state = await engine.current(actor)
    assert state is not None and state.answers["likes"] is True
    assert state.answers["why"] == "Pupils talk more"


async def test_left_open_flow_can_be_discarded(
    engine: FlowEngine, actor: Actor, clock: FakeClock
) -> None:
    await engine.start(actor, "demo")
    clock.advance(hours=3)
    out = await engine.handle(actor, TextIn("hello"))
    out = await engine.tap(actor, button(out, "discard"))
    assert said(out) == ["engine/discarded"]
    assert await engine.current(actor) is None


async def test_starting_another_flow_offers_continue_or_discard(
    engine: FlowEngine, actor: Actor
) -> None:
    await engine.start(actor, "demo")
    out = await engine.start(actor, "other")
    assert said(out) == ["engine/in_progress"]
    out2 = await engine.tap(actor, button(out, "discard"))
    assert said(out2) == ["engine/discarded", "other/only"]
    state = await engine.current(actor)
    assert state is not None and state.flow == "other"


async def test_expiry_is_stored_and_survives_restarts(
    engine: FlowEngine, actor: Actor, clock: FakeClock, db: Database
) -> None:
    await engine.start(actor, "demo")
    clock.advance(hours=73)
    assert await engine.expire_due() == 1
    assert await db.fetchval("SELECT status FROM flow_state") == "expired"
    out = await engine.handle(actor, TextIn("red"))
    assert not out.handled


async def test_expired_flow_found_lazily_tells_the_person(
    engine: FlowEngine, actor: Actor, clock: FakeClock
) -> None:
    await engine.start(actor, "demo")
    clock.advance(hours=73)
    out = await engine.handle(actor, TextIn("red"))
    assert said(out) == ["engine/expired"] and not out.handled


async def test_button_data_fits_telegram(engine: FlowEngine, actor: Actor) -> None:
    out = await engine.start(actor, "demo")
    assert all(len(b.data.encode()) <= 64 for b in buttons(out))


async def test_cancel_with_nothing_open(engine: FlowEngine, actor: Actor) -> None:
    out = await engine.cancel(actor)
    assert said(out) == ["engine/nothing_to_cancel"]
