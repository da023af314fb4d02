"""Generated updates for the hostile input test: garbage, and real conversations to bury it in.

A step is `(kind, actor, value)`:
  text / edit / voice / sticker / photo / document / location — a private message;
  press — tap the newest button in one's own chat whose label contains `value` (nothing
          happens when there is none), tap — any button ever sent there, old or new;
  replay — another person's genuine button, sent on a keyboard in one's own chat; forged —
          made-up data;
  group — a message in the trio's group, not a reply (the bot sees only commands);
  greply — a reply in the group to the bot's newest question there; gpress / gtap — the same
          as press / tap, on the group's buttons;
  answer / ganswer — do what the bot's newest question (privately / in the group) asks: tap
          one of its options, or type the kind of answer it wants; `value` picks which;
  wait — let `value` minutes pass, with everything that falls due meanwhile.
Episodes are the conversations people really have (a lead schedules a meeting, records who
came, a member writes the summary, the others approve it, a lesson-study cycle starts, a
teacher asks to be erased…), each with garbage slipped in between its steps, so flows are
interrupted mid-way.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Step = tuple[str, str, Any]

TRIO = ("alice", "bruno", "carmen")  # Alice leads the trio; Bruno and Carmen teach in it
OUTSIDERS = ("dana", "olga")  # a researcher; the lead of another trio
ACTORS = (*TRIO, *OUTSIDERS, "stranger")
COMMANDS = (
    "/start",
    "/start DEMOALICE",
    "/start ' OR 1=1 --",
    "/help me",
    "/settings now please",
    "/privacy ../../etc/passwd",
    "/reflect <b>bold</b>",
    "/status all",
    "/invite teacher T-99",
    "/cancel twice",
    "/nonsense",
    "/start@triobot_test_bot",
    "/meeting",
    "/meeting 99 ; DROP TABLE meeting",
    "/summary",
    "/summary @everyone",
    "/lessonstudy",
    "/lessonstudy restart",
    "/link",
    "/skip",
    "/back",
    "/skip@triobot_test_bot now",
)
# Weeks for /digest: past, this one, future, malformed, and the calendar's very ends.
WEEKS = ("2026-W49", "2026-W48", "2026-W47", "W47", "x", "2026-W00", "2026-W53", "2026w46",
         "2026-47", "-1", "9999-W52", "0001-W01", "1-1", "2026-W47 2026-W48",
         "２０２６-W47")  # fmt: skip
DATES = ("24/11/2026", "2026-11-25", "25/11", "26/11/2026", "1/12/2026", "2026-11-23",
         "31/02/2026", "tomorrow", "2027-01-12", "31/12/9999")  # fmt: skip
TIMES = ("16:00", "4pm", "09:30", "10:05", "23:59", "25:00", "noon", "1730")
WORDS = ("Feedback that moves learning on", "Whole-class feedback sheets", "ok",
         "<b>bold</b> & <i>", "x", "Buses stop at 4pm", "🙂" * 40)  # fmt: skip
# Labels of the buttons the meeting, summary and lesson-study messages carry (a substring
# of each, as shown), and of the flow buttons around them.
LABELS = ("New meeting", "Move 1", "Cancel 1", "Yes, cancel it", "No, keep it",
          "Send the invitations", "Send the new time", "Record attendance", "Done", "Alice",
          "Bruno", "Carmen", "I'll write it now", "Ask Bruno", "Start the summary",
          "Keep the planned focus", "No actions agreed", "That's all", "the whole trio",
          "within school", "between schools", "beyond schools", "Send to the trio", "Approve",
          "Suggest a change", "Edit the summary", "Confirm as agreed", "In progress",
          "Dropped", "Answer now", "Skip", "Back", "Cancel", "Continue", "Discard it", "Yes",
          "No", "Record student voice", "Plan research lesson", "Swap teacher", "My notes",
          "Interview notes", "Post-lesson discussion", "Use “", "Keep the same", "whose turn",
          "In an hour", "Skip this one", "done", "dropped", "not started",
          "Add another", "Southgate Primary")  # fmt: skip
LEVELS = ("within school", "between schools", "beyond schools")
SCHOOLS = ("Northfield Primary", "Southgate Primary", "Westbrook Primary")  # whose barrier
# What people type when a question wants text, by a word the question contains (the first
# that matches; "" matches any).
TYPED = (
    ("date", ("24/11/2026", "26/11/2026", "2026-12-15", "1/12", "yesterday", "31/12/9999")),
    ("time", ("16:00", "10:15", "4pm", "25:61")),
    ("link", ("https://meet.example/trio", "not a link")),
    ("key moments", ("Placing 1/2 on the line\nPair talk\nPlenary", "The plenary")),
    ("", WORDS),
)

texts = st.one_of(
    st.text(min_size=1, max_size=200).filter(str.strip),
    st.sampled_from(COMMANDS),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3).filter(str.strip), st.just(2500)),
    st.sampled_from(["yes", "1", "2026-12-01", "16:00", "Europe/London", "no", "back", "skip"]),
    st.sampled_from(DATES + TIMES + WORDS),
    st.builds(lambda w: f"/digest {w}", st.one_of(st.sampled_from(WEEKS), st.text(max_size=12))),
)
actors = st.sampled_from(ACTORS)
garbage = st.one_of(
    st.tuples(st.just("text"), actors, texts),
    st.tuples(
        st.sampled_from(["sticker", "photo", "document", "voice", "location"]), actors, st.none()
    ),
    st.tuples(st.just("edit"), actors, texts),
    st.tuples(st.just("tap"), actors, st.integers(0, 50)),
    st.tuples(st.just("press"), actors, st.sampled_from(LABELS)),
    st.tuples(
        st.just("forged"),
        actors,
        st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64),
    ),
    st.tuples(st.just("replay"), actors, st.integers(0, 50)),
    st.tuples(st.just("group"), actors, texts),
    st.tuples(st.just("greply"), actors, texts),
    st.tuples(st.just("gpress"), actors, st.sampled_from(LABELS)),
    st.tuples(st.just("gtap"), actors, st.integers(0, 50)),
)


def say(actor: str, text: str) -> Step:
    return ("text", actor, text)


def press(actor: str, label: str) -> Step:
    return ("press", actor, label)


def wait(minutes: int) -> Step:
    return ("wait", "clock", minutes)


@st.composite
def answers(
    draw: st.DrawFn, actor: str, least: int, most: int, *, group: bool = False
) -> list[Step]:
    """A run of answers to whatever the bot asks next."""
    picks = draw(st.lists(st.integers(0, 99), min_size=least, max_size=most))
    return [("ganswer" if group else "answer", actor, pick) for pick in picks]


words = st.sampled_from(WORDS)
dates = st.sampled_from(DATES)
times = st.sampled_from(TIMES)
# Mostly Alice, in her trio; sometimes the lead of the other trio, in hers.
leads = st.sampled_from(["alice", "alice", "alice", "olga"])


def typed(
    actor: str, junk: st.SearchStrategy[str], good: tuple[str, ...], *, give_up: bool
) -> st.SearchStrategy[list[Step]]:
    """An answer as people give it: often right first time, else wrong and then retyped (or,
    when they may `give_up`, wrong and left so)."""
    right = st.sampled_from(good).map(lambda text: [say(actor, text)])
    retyped = st.tuples(junk, st.sampled_from(good)).map(
        lambda pair: [say(actor, pair[0]), say(actor, pair[1])]
    )
    wrong = junk.map(lambda text: [say(actor, text)])
    return st.one_of(right, right, retyped, *([wrong] if give_up else []))


@st.composite
def schedule_meeting(
    draw: st.DrawFn, lead: str | None = None, *, today: bool = False
) -> list[Step]:
    """A lead schedules a meeting: in the story, Alice for later today (so that it is over
    after the story's wait); aside, any lead for any day, and perhaps not to the end."""
    lead = lead or draw(leads)
    link = draw(st.sampled_from(["https://meet.example/trio", "not a link", None]))
    days = ("24/11/2026", "24/11", "2026-11-24") if today else ("24/11/2026", "25/11/2026", "25/11")
    # Wrong in the story means refused (a day gone by, no such day, an hour gone by).
    bad_days = st.sampled_from(("2026-11-23", "31/02/2026", "tomorrow")) if today else dates
    bad_times = st.sampled_from(("09:30", "25:00", "noon")) if today else times
    return [
        say(lead, "/meeting"),
        press(lead, "New meeting"),
        *draw(typed(lead, bad_days, days, give_up=not today)),
        *draw(typed(lead, bad_times, ("16:00", "4pm", "11:00", "14:30"), give_up=not today)),
        say(lead, link) if link else press(lead, "Skip"),
        say(lead, draw(words)),
        press(lead, "Send the invitations"),
        *draw(answers(lead, 0, 3)),
    ]


@st.composite
def move_or_cancel_meeting(draw: st.DrawFn) -> list[Step]:
    """A lead moves the first meeting listed, or cancels it, or thinks better of it."""
    lead = draw(leads)
    if draw(st.booleans()):
        return [
            say(lead, "/meeting"),
            press(lead, "Move 1"),
            say(lead, draw(dates)),
            say(lead, draw(times)),
            press(lead, "Send the new time"),
        ]
    choice = draw(st.sampled_from(["Yes, cancel it", "No, keep it"]))
    return [say(lead, "/meeting"), press(lead, "Cancel 1"), press(lead, choice)]


@st.composite
def meeting_held(
    draw: st.DrawFn, waits: tuple[int, ...] = (60, 8 * 60, 54 * 60), *, everyone: bool = False
) -> list[Step]:
    """Time passes (reminders, the question after the meeting); the lead says who came."""
    names = st.sampled_from(["Alice", "Bruno", "Carmen"])
    came = ["Alice", "Bruno", "Carmen"] if everyone else draw(st.lists(names, min_size=1))
    return [
        wait(draw(st.sampled_from(waits))),
        press("alice", "Record attendance"),
        *(press("alice", name) for name in came),
        *draw(answers("alice", 0, 2)),
        press("alice", "Done"),
    ]


@st.composite
def reflect_on_meeting(draw: st.DrawFn) -> list[Step]:
    """A member answers the newest reflection prompt: after the meeting, or the week's."""
    member = draw(st.sampled_from(TRIO))
    return [press(member, "Answer now"), *draw(answers(member, 1, 3))]


@st.composite
def write_summary(draw: st.DrawFn) -> list[Step]:
    """Someone starts the summary — the lead, or the member she asks — privately or in the
    trio's group, and goes through it to the end, more or less."""
    start = draw(st.sampled_from(["myself", "command", "ask bruno", "ask carmen", "group"]))
    writer = start.split()[-1] if start.startswith("ask") else "alice"
    in_group = start == "group"
    steps: list[Step] = []
    if start == "myself":
        steps.append(press("alice", "I'll write it now"))
    elif start == "command":
        steps.append(say("alice", "/summary"))
    elif in_group:
        steps += [("group", "alice", "/link"), ("group", "alice", "/summary")]
    else:
        steps += [press("alice", f"Ask {writer.title()}"), press(writer, "Start the summary")]

    if draw(st.booleans()):  # answering whatever comes next
        return steps + draw(answers(writer, 24, 40, group=in_group))

    # …or going by the script of a summary with no actions from last time, which a question
    # that comes out differently (or an interruption taken as an answer) puts out of step;
    # then answering whatever is still asked.
    def answer(text: str) -> Step:
        return ("greply", writer, text) if in_group else say(writer, text)

    def tap(label: str) -> Step:
        return ("gpress", writer, label) if in_group else press(writer, label)

    def skip() -> Step:
        if in_group:
            return ("group", writer, draw(st.sampled_from(["/skip", "/skip", "/back"])))
        return tap(draw(st.sampled_from(["Skip", "Skip", "Back"])))

    steps.append(tap("Keep the planned focus") if draw(st.booleans()) else answer(draw(words)))
    for _ in range(3):  # what each school shared
        choice = draw(st.sampled_from(["text", "voice", "skip"]))
        if choice == "voice" and not in_group:
            steps.append(("voice", writer, None))
        else:
            steps.append(answer(draw(words)) if choice == "text" else skip())
    steps.append(answer(draw(words)))  # evidence
    for _ in range(draw(st.integers(0, 2))):  # barriers, each with its level and school
        steps += [answer(draw(words)), tap(draw(st.sampled_from(LEVELS)))]
        steps.append(tap(draw(st.sampled_from(SCHOOLS))))
    steps.append(skip())
    if draw(st.integers(0, 4)) == 0:
        steps.append(tap("No actions agreed"))
    else:
        for _ in range(draw(st.integers(1, 2))):
            owner = draw(st.sampled_from(["Alice", "Bruno", "Carmen", "the whole trio"]))
            due = draw(st.sampled_from(["26/11/2026", "2026-12-15", "yesterday", "31/12/9999"]))
            steps += [answer(draw(words)), tap(owner), answer(due)]
        steps.append(tap("That's all"))
    steps += [skip(), skip(), tap("Send to the trio")]
    return steps + draw(answers(writer, 6, 14, group=in_group))


@st.composite
def agree_summary(draw: st.DrawFn) -> list[Step]:
    """Members approve or suggest a change; someone edits; after the deadline the lead looks
    and confirms."""
    steps: list[Step] = []
    for member in draw(st.lists(st.sampled_from(TRIO), min_size=1, max_size=3)):
        if draw(st.booleans()):
            steps.append(press(member, "Approve"))
        else:
            steps += [press(member, "Suggest a change"), say(member, draw(words))]
    if draw(st.booleans()):
        author = draw(st.sampled_from(TRIO))
        steps += [press(author, "Edit the summary"), *draw(answers(author, 2, 6))]
    if draw(st.booleans()):  # past the deadline for agreement (five days)
        steps += [wait(5 * 24 * 60 + 120), say("alice", "/summary")]
        steps.append(press("alice", "Confirm as agreed"))
    return steps


@st.composite
def follow_up_action(draw: st.DrawFn) -> list[Step]:
    """Time passes until (perhaps) an action falls due; someone says how it went."""
    who = draw(st.sampled_from(TRIO))
    mark = draw(st.sampled_from(["In progress", "Done", "Dropped"]))
    return [wait(draw(st.sampled_from([30, 26 * 60, 4 * 24 * 60]))), press(who, mark)]


@st.composite
def lesson_study(draw: st.DrawFn) -> list[Step]:
    """A member starts a cycle with case pupils; someone records student voice; someone
    plans the first research lesson; it is taught; an observer starts their notes."""
    starter, voice, planner, observer = (draw(st.sampled_from(TRIO)) for _ in range(4))
    return [
        say(starter, "/lessonstudy"),
        *draw(answers(starter, 8, 18)),
        press(voice, "Record student voice"),
        *draw(answers(voice, 1, 5)),
        press(planner, "Plan research lesson"),
        *draw(answers(planner, 6, 16)),
        wait(draw(st.sampled_from([60, 2 * 24 * 60]))),
        press(observer, "My notes"),
        *draw(answers(observer, 0, 8)),
    ]


@st.composite
def digests(draw: st.DrawFn) -> list[Step]:
    """Someone asks for a digest, for a week that may or may not be one (a pause first, as
    a researcher's digest is a message and two files: Telegram's burst for a chat)."""
    who = draw(st.sampled_from(["dana", "dana", "bruno", "alice", "stranger"]))
    week = draw(st.one_of(st.sampled_from(WEEKS), st.text(max_size=10)))
    return [wait(1), say(who, f"/digest {week}".strip())]


@st.composite
def leave(draw: st.DrawFn) -> list[Step]:
    """A teacher asks to be erased, half-way through the trio's work (and writes again)."""
    who = draw(st.sampled_from(["bruno", "carmen"]))
    return [
        say(who, "/privacy"),
        press(who, "Erase my data"),
        press(who, "Yes, erase everything"),
        *draw(answers(who, 0, 2)),
    ]


@st.composite
def link_group(draw: st.DrawFn) -> list[Step]:
    """Whoever is in the trio's group tries to link it, to whichever trio."""
    who = draw(st.sampled_from(["alice", "alice", "bruno", "olga", "dana", "stranger"]))
    ref = draw(st.sampled_from(["", " DEMO-T1", " T-OTHER", " nope", " demo-t1"]))
    return [("group", who, f"/link{ref}")]


# A trio's story in order — a meeting scheduled, held, reflected on, written up, agreed,
# followed up — each part there once, twice or not at all; the rest happens at any time.
STORY = (
    schedule_meeting("alice", today=True),
    meeting_held(waits=(8 * 60,), everyone=True),  # until before quiet hours begin, at 20:00
    reflect_on_meeting(),
    write_summary(),
    agree_summary(),
    follow_up_action(),
)
ASIDES = st.one_of(
    schedule_meeting(),
    move_or_cancel_meeting(),
    meeting_held(),
    write_summary(),
    agree_summary(),
    lesson_study(),
    digests(),
    link_group(),
    leave(),
)


@st.composite
def interrupted(draw: st.DrawFn, episode: st.SearchStrategy[list[Step]]) -> list[Step]:
    """An episode with, now and then, garbage (or anyone's tap) slipped in between its steps."""
    steps: list[Step] = []
    for step in draw(episode):
        if draw(st.integers(0, 6)) == 0:
            steps.append(draw(garbage))
        steps.append(step)
    return steps


@st.composite
def sequences(draw: st.DrawFn, extras: int) -> list[Step]:
    """The story, with up to `extras` other episodes or runs of garbage dropped in anywhere;
    flattened into one list of updates."""
    parts = [
        draw(interrupted(part))
        for part in STORY
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2])))
    ]
    extra = st.one_of(interrupted(ASIDES), st.lists(garbage, min_size=1, max_size=4))
    for _ in range(draw(st.integers(0, extras))):
        parts.insert(draw(st.integers(0, len(parts))), draw(extra))
    return [step for steps in parts for step in steps]
