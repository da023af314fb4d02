"""bench/flow_throughput.py checks its own work: a tiny run passes its checks, and a run
whose work was not done (a check-in short, an answer changed, an unknown-command reply, a
call refused) is reported and fails."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.flow_throughput import (
    answers_for,
    check,
    forbidden_replies,
    like_for_like,
    script_for,
    user_ids,
)
from bot.texts import Texts

ROOT = Path(__file__).resolve().parent.parent
STEPS = len(script_for(0))


def test_a_tiny_run_verifies_every_check_in_answer_and_reply() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "bench/flow_throughput.py", "--people", "20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    verified = [line for line in run.stdout.splitlines() if line.startswith("verified: ")]
    assert "NOT VERIFIED" not in run.stdout
    assert f"verified: triobot handled {20 * STEPS} of {20 * STEPS} updates" in verified
    assert any("triobot: 20 of 20 check-ins completed" in line for line in verified)
    assert "verified: triobot: 20 of 20 people's six answers stored as sent" in verified
    assert any(line.endswith("start/no_invite): none") for line in verified)
    assert any("PTB+Pickle: 20 check-ins completed" in line and "of the 20" in line
               for line in verified)  # fmt: skip
    assert f"verified: PTB floor: 20 of 20 people got a reply to each of their {STEPS} updates" in (
        verified
    )
    assert "verified: calls refused by the stand-in: {'triobot': 0, 'ptb': 0, 'floor': 0}" in (
        verified
    )


def recorded(people: int) -> dict[str, dict[str, Any]]:
    """What a run in which all the work was done records."""
    total = people * STEPS
    return {
        "triobot": {
            "updates": total,
            "completed_flows": people,
            "answers_as_sent": people,
            "wrong_answer": "",
            "forbidden": {"counts": {}, "example": ""},
            "refused_by_telegram": 0,
        },
        "ptb": {
            "updates": total,
            "finished": True,
            "completed_flows": people,
            "answers_as_sent": people,
            "refused_by_telegram": 0,
        },
        "floor": {"updates": total, "completed_flows": people, "refused_by_telegram": 0},
    }


def test_the_checks_pass_when_the_work_was_done() -> None:
    verified, failures = check(5, recorded(5))
    assert failures == []
    assert len(verified) == 7


def test_every_shortfall_is_reported() -> None:
    shortfalls: list[tuple[str, str, Any, str]] = [
        ("triobot", "updates", 5 * STEPS - 1, f"triobot handled {5 * STEPS - 1} of"),
        ("triobot", "completed_flows", 4, "triobot: 4 of 5 check-ins completed"),
        ("triobot", "answers_as_sent", 3, "triobot: 3 of 5 people's six answers"),
        ("ptb", "completed_flows", 4, "PTB+Pickle: 4 check-ins completed"),
        ("floor", "completed_flows", 2, "PTB floor: 2 of 5 people"),
        ("floor", "refused_by_telegram", 1, "calls refused by the stand-in"),
    ]
    for variant, key, value, said in shortfalls:
        results = copy.deepcopy(recorded(5))
        results[variant][key] = value
        _, failures = check(5, results)
        assert any(said in line for line in failures), (key, failures)


def test_an_unknown_command_reply_or_a_changed_answer_fails_the_run() -> None:
    results = recorded(5)
    results["triobot"]["forbidden"] = {
        "counts": {"errors/unknown_command": 5},
        "example": "10000001: 'I don’t know the command /checkin.'",
    }
    results["triobot"]["wrong_answer"] = "10000002: stored ['Answer 0', None]"
    _, failures = check(5, results)
    assert any("5 errors/unknown_command" in line for line in failures)
    assert any("I don’t know the command /checkin" in line for line in failures)
    assert any("first answer not as sent: 10000002" in line for line in failures)


def test_a_baseline_stopped_early_is_checked_against_the_people_it_reached() -> None:
    results = recorded(10)
    results["ptb"].update(updates=10 * (STEPS - 1) + 4, finished=False, completed_flows=4)
    results["ptb"]["answers_as_sent"] = 4
    assert check(10, results)[1] == []
    results["ptb"]["completed_flows"] = 3
    assert any("PTB+Pickle: 3 check-ins" in line for line in check(10, results)[1])


def test_the_ratio_to_a_stopped_baseline_is_over_the_same_updates() -> None:
    ours = {"updates_per_s": 1000.0, "done_at": [0.001 * (i + 1) for i in range(100)]}
    assert like_for_like(ours, {"updates": 100, "finished": True}) == (1000.0, "the full run")
    rate, span = like_for_like(ours, {"updates": 40, "finished": False})
    assert span == "the same first 40 updates"
    assert round(rate) == 1000


@dataclass
class Sent:
    text: str


class Recorded:
    """The stand-in's record of what was sent, as forbidden_replies reads it."""

    def __init__(self, sent: dict[int, list[str]]) -> None:
        self.sent = sent

    def messages_in(self, chat_id: int) -> list[Sent]:
        return [Sent(text) for text in self.sent.get(chat_id, [])]


def test_replies_are_recognised_by_their_rendered_templates() -> None:
    texts = Texts()
    first, second = user_ids(2)
    unknown = texts.render("en", "errors/unknown_command", {"command": "/checkin"})
    slow = texts.render("en", "errors/slow_down", {"per_minute": 30})
    api = Recorded({first: ["✅ Saved — check-in.", unknown], second: [slow, slow]})
    found = forbidden_replies(api, [first, second], texts)  # type: ignore[arg-type]
    assert found["counts"] == {"errors/unknown_command": 1, "errors/slow_down": 2}
    assert found["example"].startswith(f"{first}: ")
    clean = Recorded({first: [texts.render("en", "onboarding/name")]})
    assert forbidden_replies(clean, [first], texts)["counts"] == {}  # type: ignore[arg-type]


def test_the_script_sends_six_distinct_answers_per_person() -> None:
    answers = answers_for(10_000_001)
    assert len(answers) == 6 and len(set(answers)) == 6
    assert answers != answers_for(10_000_002)
