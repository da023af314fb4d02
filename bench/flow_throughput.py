"""Flow throughput: N people join and answer a six-step free-text flow, through PTB.

Runs the same workload three ways, each in its own process so peak memory is its own:
  triobot — our engine, state in SQLite on disk, every answer committed before the reply;
  ptb     — PTB's stock ConversationHandler with PicklePersistence written after every update
            (the same durability: a crash loses nothing acknowledged);
  floor   — bare PTB making the same Bot API calls per update, no logic and no storage:
            the cost of PTB and the stand-in alone, which no bot on PTB can go below.
Both go through `Application.process_update` against the stand-in for Telegram, which still
checks HTML, lengths and button data; rate limits are off (they are bench/fanout.py's subject).

    python bench/flow_throughput.py --people 1000
    python bench/flow_throughput.py --people 10000 --baseline-seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

from bench.machine import describe, peak_rss_mb
from bot.app.factory import build_application, running
from bot.config import Settings
from bot.flows.answers import FreeText
from bot.flows.model import Flow, Step
from bot.standin.api import FakeTelegram
from bot.standin.limits import Limits
from bot.standin.request import StandInRequest
from bot.telegram.context import Context, Services
from bot.telegram.handlers.common import deliver, identify
from storage.clock import utcnow
from storage.invites import InviteRepo
from storage.programme import ProgrammeRepo

QUESTIONS = 6
CODE = "BENCHINVITE1"

CHECKIN = Flow(
    name="checkin",
    command="/checkin",
    done_template="settings/saved",
    done_context=lambda view: {"what": "check-in"},
    steps=tuple(
        Step(f"q{i}", "onboarding/name", FreeText(max_len=2000)) for i in range(1, QUESTIONS + 1)
    ),
)

# --- the workload, the same for both ---------------------------------------------------
Script = list[tuple[str, Any]]  # ("text", str) or ("tap", button index) per update


def script_for(user_id: int) -> Script:
    steps: Script = [("text", f"/start {CODE}"), ("tap", 0), ("tap", 0), ("tap", 0), ("tap", 0)]
    steps.append(("text", "/checkin"))
    steps += [("text", f"Answer {i} from {user_id}: what we tried and saw.") for i in range(6)]
    return steps


def next_update(app: Application, api: FakeTelegram, user_id: int, step: int) -> Update:  # type: ignore[type-arg]
    kind, value = script_for(user_id)[step]
    if kind == "text":
        raw = api.text(user_id, value)
    else:
        message = next(m for m in reversed(api.messages_in(user_id)) if m.buttons)
        raw = api.callback(user_id, message.message_id, message.buttons[value][0][1])
    return Update.de_json(raw, app.bot)


async def drive(
    app: Application,  # type: ignore[type-arg]
    api: FakeTelegram,
    people: int,
    *,
    in_flight: int = 1,
    after_each: Callable[[], Awaitable[None]] | None = None,
    deadline: float | None = None,
) -> tuple[list[float], int]:
    """Round-robin: every person takes step k before anyone takes step k+1.

    With in_flight > 1 the updates go through the Application's update processor, up to
    that many at once (people answering at the same moment); latency is measured from
    the moment an update is handed to the bot until its handling finished.
    """
    latencies: list[float] = []
    user_ids = list(range(10_000_001, 10_000_001 + people))
    for user_id in user_ids:
        api.add_user(user_id, f"T{user_id}", language_code="en")
    refusals = len(api.refusals)
    window = asyncio.Semaphore(in_flight)

    async def one(update: Update) -> None:
        async with window:
            began = time.perf_counter()
            if in_flight == 1:
                await app.process_update(update)
            else:
                await app.update_processor.process_update(update, app.process_update(update))
            if after_each is not None:
                await after_each()
            latencies.append(time.perf_counter() - began)

    for step in range(len(script_for(0))):
        updates = [next_update(app, api, user_id, step) for user_id in user_ids]
        if in_flight == 1:
            for update in updates:
                await one(update)
                if deadline is not None and time.perf_counter() > deadline:
                    return latencies, len(api.refusals) - refusals
        else:
            await asyncio.gather(*(one(update) for update in updates))
    return latencies, len(api.refusals) - refusals


# --- triobot -----------------------------------------------------------------------------
async def run_triobot(people: int, folder: Path, in_flight: int) -> dict[str, Any]:
    api = FakeTelegram(limits=Limits(enabled=False))
    # Flood control off: the workload sends each person's updates at machine speed, which a
    # person never does (the guard has its own tests), and it would drop most of them.
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, db_path=folder / "triobot.db", TRIOBOT_FLOOD_PER_MINUTE=0
    )
    app = build_application(
        settings,
        request=StandInRequest(api),
        clock=utcnow,
        polling=False,
        rate_limiter=False,
        extra_flows=(CHECKIN,),
    )

    async def checkin(update: Update, context: Context) -> None:
        """Opens the six-step check-in (the bench's own flow, declared as data above)."""
        who = await identify(update, context)
        if who is not None:
            outcome = await context.bot_data.engine.start(who.actor, "checkin")
            await deliver(update, context, outcome, who.lang)
        raise ApplicationHandlerStop  # handled: the unknown-command fallback must not see it

    # Before the flood guard's group (-1): PTB runs one handler per group, and the guard's
    # TypeHandler takes every update there.
    app.add_handler(CommandHandler("checkin", checkin), group=-2)
    async with running(app):
        services: Services = app.bot_data
        async with services.db.transaction() as tx:
            school = await ProgrammeRepo.upsert_school(
                tx, ref="S1", name="Bench School", local_authority="LA1", phase="primary"
            )
            await InviteRepo.create(
                tx, role="teacher", school_id=school, max_uses=people, code=CODE
            )
        began = time.perf_counter()
        latencies, refusals = await drive(app, api, people, in_flight=in_flight)
        elapsed = time.perf_counter() - began
        done = await services.db.fetchval(
            "SELECT COUNT(*) FROM flow_state WHERE flow = 'checkin' AND status = 'done'"
        )
    extra = {"completed_flows": done, "in_flight": in_flight}
    return summary("triobot", latencies, elapsed, refusals, extra)


# --- PTB's stock ConversationHandler + PicklePersistence ------------------------------------
CONSENT, LANGUAGE, NAME, ZONE, *ASKING = range(4 + QUESTIONS)


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"c{i}")] for i, label in enumerate(labels)]
    )


def build_baseline(api: FakeTelegram, path: Path) -> Application:  # type: ignore[type-arg]
    persistence = PicklePersistence(filepath=path, on_flush=False)
    app = (
        ApplicationBuilder()
        .token("123456:BENCH")
        .request(StandInRequest(api))
        .persistence(persistence)
        .updater(None)
        .build()
    )

    async def start(update: Update, context: Any) -> int:
        context.user_data["code"] = context.args[0] if context.args else None
        await update.effective_message.reply_html(  # type: ignore[union-attr]
            "👋 Welcome to <b>triobot</b>. What we keep and why… May researchers use your answers?",
            reply_markup=keyboard("Yes, my answers may be used", "No, just let me use the bot"),
        )
        return CONSENT

    def tapped(key: str, question: str, buttons: tuple[str, ...], nxt: int) -> Any:
        async def on_tap(update: Update, context: Any) -> int:
            query = update.callback_query
            assert query is not None
            context.user_data[key] = query.data
            await query.answer()
            await query.edit_message_reply_markup(keyboard(f"✓ {query.data}"))
            await update.effective_chat.send_message(  # type: ignore[union-attr]
                question, parse_mode="HTML", reply_markup=keyboard(*buttons) if buttons else None
            )
            return nxt

        return on_tap

    async def zone(update: Update, context: Any) -> int:
        query = update.callback_query
        assert query is not None
        context.user_data["zone"] = query.data
        await query.answer()
        await query.edit_message_reply_markup(keyboard(f"✓ {query.data}"))
        await update.effective_chat.send_message("✅ You're in! Send /help…")  # type: ignore[union-attr]
        return ConversationHandler.END

    async def checkin(update: Update, context: Any) -> int:
        await update.effective_message.reply_html("Question 1: what did you try?")  # type: ignore[union-attr]
        return ASKING[0]

    def answer(index: int) -> Any:
        async def on_text(update: Update, context: Any) -> int:
            context.user_data[f"q{index + 1}"] = update.effective_message.text  # type: ignore[union-attr]
            if index + 1 < QUESTIONS:
                await update.effective_message.reply_html(f"Question {index + 2}: …")  # type: ignore[union-attr]
                return ASKING[index + 1]
            await update.effective_message.reply_html("✅ Saved — check-in.")  # type: ignore[union-attr]
            return ConversationHandler.END

        return on_text

    text = filters.TEXT & ~filters.COMMAND
    states: dict[object, list[Any]] = {
        CONSENT: [
            CallbackQueryHandler(
                tapped("consent", "Which language?", ("English", "Español", "Português"), LANGUAGE)
            )
        ],
        LANGUAGE: [
            CallbackQueryHandler(
                tapped("language", "What name should your trio see?", ("Use my name",), NAME)
            )
        ],
        NAME: [
            CallbackQueryHandler(
                tapped("name", "Which time zone?", ("Europe/London", "Europe/Madrid"), ZONE)
            )
        ],
        ZONE: [CallbackQueryHandler(zone)],
    }
    for i in range(QUESTIONS):
        states[ASKING[i]] = [MessageHandler(text, answer(i))]
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start), CommandHandler("checkin", checkin)],
            states=states,  # type: ignore[arg-type]
            fallbacks=[],
            name="bench",
            persistent=True,
        )
    )
    return app


async def run_ptb(people: int, folder: Path, seconds: float | None) -> dict[str, Any]:
    api = FakeTelegram(limits=Limits(enabled=False))
    app = build_baseline(api, folder / "ptb.pickle")
    async with app:
        began = time.perf_counter()
        deadline = None if seconds is None else began + seconds
        latencies, refusals = await drive(
            app, api, people, after_each=app.update_persistence, deadline=deadline
        )
        elapsed = time.perf_counter() - began
    total = people * len(script_for(0))
    return summary("ptb", latencies, elapsed, refusals, {"finished": len(latencies) == total})


def build_floor(api: FakeTelegram) -> Application:  # type: ignore[type-arg]
    """PTB making the same Bot API calls per update as triobot, with no logic and no storage."""
    app = (
        ApplicationBuilder()
        .token("123456:FLOOR")
        .request(StandInRequest(api))
        .updater(None)
        .build()
    )
    buttons = keyboard("Yes", "No")

    async def on_text(update: Update, context: Any) -> None:
        await update.effective_message.reply_html("<b>Next question</b> …", reply_markup=buttons)  # type: ignore[union-attr]

    async def on_tap(update: Update, context: Any) -> None:
        query = update.callback_query
        assert query is not None
        await query.edit_message_reply_markup(keyboard(f"✓ {query.data}"))
        await update.effective_chat.send_message(
            "<b>Next question</b> …", parse_mode="HTML", reply_markup=buttons
        )  # type: ignore[union-attr]
        await query.answer()

    app.add_handler(CallbackQueryHandler(on_tap))
    app.add_handler(MessageHandler(filters.TEXT, on_text))
    return app


async def run_floor(people: int) -> dict[str, Any]:
    api = FakeTelegram(limits=Limits(enabled=False))
    app = build_floor(api)
    async with app:
        began = time.perf_counter()
        latencies, refusals = await drive(app, api, people)
        elapsed = time.perf_counter() - began
    return summary("floor", latencies, elapsed, refusals, {})


def summary(
    name: str, latencies: list[float], elapsed: float, refusals: int, extra: dict[str, Any]
) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "variant": name,
        "updates": len(latencies),
        "seconds": elapsed,
        "updates_per_s": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(ordered) * 1000 if ordered else 0.0,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000 if ordered else 0.0,
        "peak_rss_mb": peak_rss_mb(),
        "refused_by_telegram": refusals,
        **extra,
    }


def child(variant: str, people: int, seconds: float | None, in_flight: int) -> None:
    # Under bench/results (ignored by git), on the same disk as the repository.
    scratch = Path(__file__).resolve().parent / "results"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        if variant == "triobot":
            result = asyncio.run(run_triobot(people, Path(folder), in_flight))
        elif variant == "floor":
            result = asyncio.run(run_floor(people))
        else:
            result = asyncio.run(run_ptb(people, Path(folder), seconds))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=None,
        help="stop the PTB baseline after this long (its rate is over what it finished)",
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=1,
        help="updates handed to triobot at once (people answering at the same moment)",
    )
    parser.add_argument("--variant", choices=["triobot", "ptb", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        child(args.variant, args.people, args.baseline_seconds, args.in_flight)
        return
    results = {}
    for variant in ("triobot", "ptb", "floor"):
        command = [sys.executable, __file__, "--variant", variant, "--people", str(args.people)]
        command += ["--in-flight", str(args.in_flight)]
        if args.baseline_seconds is not None:
            command += ["--baseline-seconds", str(args.baseline_seconds)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[variant] = json.loads(out.strip().splitlines()[-1])
    ours, stock, floor = results["triobot"], results["ptb"], results["floor"]
    print(f"flow_throughput: {args.people} people × {len(script_for(0))} updates each")
    print(f"machine: {describe()}")
    print(f"{'':34}{'triobot':>12}{'PTB+Pickle':>14}{'PTB floor':>12}")
    for key, label in [
        ("updates", "updates handled"),
        ("updates_per_s", "updates per second"),
        ("p50_ms", "p50 handling latency (ms)"),
        ("p99_ms", "p99 handling latency (ms)"),
        ("peak_rss_mb", "peak memory (MB)"),
        ("refused_by_telegram", "calls refused by the stand-in"),
    ]:
        print(f"{label:34}{ours[key]:>12.1f}{stock[key]:>14.1f}{floor[key]:>12.1f}")
    print(f"completed check-in flows (triobot): {ours['completed_flows']} of {args.people}")
    print(
        f"triobot: {ours['in_flight']} updates in flight through its per-chat update processor;"
        " PTB baseline: one at a time (its persistence is flushed after each update)"
    )
    if not stock.get("finished"):
        print(f"PTB baseline stopped after {args.baseline_seconds} s (rate over what it finished)")
    print(f"ratio, updates/s triobot ÷ PTB: {ours['updates_per_s'] / stock['updates_per_s']:.1f}×")
    print(f"ratio, p99 PTB ÷ triobot:       {stock['p99_ms'] / ours['p99_ms']:.1f}×")
    own = 1000 / ours["updates_per_s"] - 1000 / floor["updates_per_s"]
    print(
        f"PTB floor = the same Bot API calls with no logic or storage: triobot's own work"
        f" (flows, SQLite, templates) costs {own:.2f} ms per update on top of it"
    )
    # The figures count only if the work was done: every person finished the check-in.
    if ours["completed_flows"] != args.people or ours["refused_by_telegram"]:
        print("NOT VERIFIED: not every check-in completed, or the stand-in refused a call")
        sys.exit(1)
    print(f"verified: all {args.people} check-ins completed, no call refused")


if __name__ == "__main__":
    main()
