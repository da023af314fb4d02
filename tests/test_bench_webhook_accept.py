"""bench/webhook_accept.py checks its own work: a tiny run verifies, a shortfall fails the check."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from bench.webhook_accept import Accepted, check
from bot.texts import Texts
from tests.bench_run import run_bench, verified_lines


def test_a_tiny_run_handles_every_update_once_and_says_so() -> None:
    run = run_bench("webhook_accept", "--updates", "30", "--people", "10", "--redeliver", "5")
    assert run.returncode == 0, run.stdout + run.stderr
    assert verified_lines(run.stdout) == [
        "verified: all 35 posts answered 200 (30 updates, 5 posted again)",
        "verified: every update handled exactly once: 30 replies to 10 people, one for each"
        " update they sent, none to the 5 posted again",
        "verified: every reply the greeting a stranger gets (start/no_invite): no refusal,"
        " no error",
    ]


def test_the_check_names_a_refused_post_a_double_or_missing_reply_and_a_wrong_one() -> None:
    greeting = Texts().render("en", "start/no_invite")
    sound = Accepted(
        took=0.1,
        statuses=Counter({200: 5}),
        sent=Counter({1: 2, 2: 2}),
        redelivered=1,
        replies={1: [greeting, greeting], 2: [greeting, greeting]},
        greeting=greeting,
    )
    assert check(sound) == []
    assert check(replace(sound, statuses=Counter({200: 4, 500: 1}))) == [
        "5 posts answered {200: 4, 500: 1}, not all 200"
    ]
    twice = replace(sound, replies={1: [greeting] * 3, 2: [greeting, greeting]})
    assert check(twice) == [
        "1 people got a reply count unlike what they sent, e.g. person 1: 3 replies to 2 updates"
    ]
    lost = replace(sound, replies={1: [greeting, greeting], 2: [greeting]})
    assert check(lost)[0].endswith("person 2: 1 replies to 2 updates")
    slow = replace(sound, replies={1: [greeting, "Slow down"], 2: [greeting, greeting]})
    assert check(slow) == ["1 replies not the greeting a stranger gets, e.g. 'Slow down'"]
