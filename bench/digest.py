"""Digests at the largest network's scale: one week's two digests with exports, and a year.

A synthetic programme (tests/digest_programme.py): 1,100 schools in 10 local authorities,
366 trios, 9,900 teachers, 52 weeks of weekly reflection prompts (60 % answered, 5 % of those
voice notes, 2 % of people withdrawn), a trio meeting every fourth week with an agreed or draft
summary (focus, three schools' practice, a tagged barrier, two actions, sometimes a question).

Each measured phase runs in a fresh process, so its peak memory is its own:
  week — compile the last week (all sources, not archived yet), render the shared and the
         researcher digest (Telegram text, HTML, two charts), write CSV and XLSX exports;
  year — `triobot export`: every week's contributions and participation, as CSV and as XLSX.

    .venv/bin/python bench/digest.py            # seeds bench/results/digest.db once (~10 s)
    .venv/bin/python bench/digest.py --reseed
    .venv/bin/python bench/digest.py --repeat 5 # each phase 5 times, then the medians
    .venv/bin/python bench/digest.py --schools 30 --weeks 12 --repeat 1   # a few seconds (CI)
    .venv/bin/python bench/digest.py --db postgresql://postgres@127.0.0.1:55432/postgres
        # the same on PostgreSQL: a database of the run's own on that server (seeded, then
        # dropped; bench/scratch_db.py)

What it built is checked against what the seeder made (tests/digest_programme.py counts each
prompt, answer, meeting, summary part and action as it makes them, kept beside the database
as <db>.made.json): the digests' figures and totals, the rows of each export table by kind,
the CSV read back and the XLSX's sheets. Each check prints a "verified:" line, or
"NOT VERIFIED:" and the run exits 1.

Wall time and CPU time (this process and its threads) are both reported: on a shared machine
the wall time of one run says as much about the neighbours as about the code.
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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe, peak_rss_mb
from bench.scratch_db import scratch_database
from storage.postgres_sql import safe_url
from storage.store import is_postgres

RESULTS = Path(__file__).resolve().parent / "results"
WEEK = "2026-W47"
NEXT_WEEK = "2026-W48"  # the week in progress when the bench's clock reads (its rows partial)
ZONE = ZoneInfo("Europe/London")
TREND_WEEKS = 8  # Options() default: the participation table's weeks in a week's export
PARTS = ("focus", "shared", "barrier", "question", "action")  # a summary's, as seeded
# The seeded programme has no lesson study, attendance, action history, or questions copied
# from agreed summaries and researchers' replies (the partnership loop): those tables are empty.
RESEARCH_TABLES = (
    "actions",
    "action_history",
    "lesson_study",
    "attendance",
    "questions",
    "researcher_replies",
)


def _made_path(db: Path | str) -> Path:
    if is_postgres(db):  # the run's own database: what it made, kept beside the run
        return Path(tempfile.gettempdir()) / (urlsplit(str(db)).path.strip("/") + ".made.json")
    db = Path(db)
    return db.with_name(db.name + ".made.json")


async def _seed(path: Path | str, schools: int, weeks: int) -> dict[str, int]:
    from storage.store import open_store
    from tests.digest_programme import seed

    db = await open_store(path)
    try:
        found = await seed(
            db, las=min(10, schools), schools=schools, teachers_per_school=9, weeks=weeks,
            last_week=WEEK, withdrawn_share=0.02, trio_work=True,
        )  # fmt: skip
        if db.dialect == "postgresql":  # row counts for the planner, as autovacuum keeps them
            async with db.transaction() as tx:
                await tx.execute("ANALYZE")
        counts = {
            "teachers": found.teachers,
            "trios": found.trios,
            "reflections": found.reflections,
            "summary_items": int(await db.fetchval("SELECT COUNT(*) FROM summary_item")),
            "meetings": int(await db.fetchval("SELECT COUNT(*) FROM meeting")),
        }
    finally:
        await db.close()
    made = {
        "schools": found.schools, "las": found.las, "trios": found.trios,
        "in_trios": found.in_trios, "weeks": {w: dict(c) for w, c in found.weeks.items()},
    }  # fmt: skip
    _made_path(path).write_text(json.dumps(made))
    return counts


def expected_week(made: dict[str, Any]) -> dict[str, int]:
    """What the week's digests and exports must hold, from what the seeder made."""
    week: dict[str, int] = made["weeks"][WEEK]

    def n(key: str) -> int:
        return int(week.get(key, 0))

    consenting_parts = {kind: n(f"{kind}_consenting") for kind in PARTS}
    return {
        "figures.trios": made["trios"],
        "figures.schools": made["schools"],
        "figures.las": made["las"],
        "figures.people": made["in_trios"],
        "figures.delivered": n("delivered_in_trios"),
        "figures.answered": n("answered_in_trios"),
        "figures.la_delivered": n("delivered"),
        "figures.la_answered": n("answered"),
        "figures.meetings": n("meetings"),
        "figures.meetings_held": n("meetings_held"),
        "researchers.reflections": n("answered"),
        "researchers.voice_notes": n("voice"),
        "researchers.summaries": n("summaries_consenting"),
        "researchers.actions": n("action_consenting"),
        "researchers.barriers": n("barrier_consenting"),
        "researchers.message_and_pages": 1,  # the message says the figures; both pages built
        **{f"researchers.rows.{kind}": count for kind, count in consenting_parts.items()},
        "researchers.rows.reflection": n("answered"),
        "schools.reflections": 0,
        "schools.summaries": n("summaries"),
        "schools.actions": n("action"),
        "schools.barriers": n("barrier"),
        **{f"schools.rows.{kind}": n(kind) for kind in PARTS},
        "schools.rows.reflection": 0,
        "exports.contributions": n("answered") + sum(consenting_parts.values()),
        "exports.contributions_csv": n("answered") + sum(consenting_parts.values()),
        "exports.participation": TREND_WEEKS * (made["trios"] + made["las"]),
        "exports.actions": n("action"),
        "exports.actions_with_words": n("action_consenting"),
        **{f"exports.{t}": 0 for t in RESEARCH_TABLES[1:]},
        "exports.xlsx_sheets": 2 + len(RESEARCH_TABLES),
        "exports.built_again_the_same": 1,  # the second build's pages are the first's bytes
    }


def expected_year(made: dict[str, Any]) -> dict[str, int]:
    """What `triobot export` must hold: every seeded week, and the week in progress."""
    weeks = made["weeks"].values()

    def total(key: str) -> int:
        return sum(int(w.get(key, 0)) for w in weeks)

    parts = {kind: total(f"{kind}_consenting") for kind in PARTS}
    return {
        "year.contributions": total("answered") + sum(parts.values()),
        **{f"year.rows.{kind}": count for kind, count in parts.items()},
        "year.rows.reflection": total("answered"),
        "year.participation": (len(made["weeks"]) + 1) * (made["trios"] + made["las"]),
        "year.actions": total("action"),
        "year.actions_with_words": total("action_consenting"),
    }


def failures(expected: dict[str, int], seen: dict[str, float]) -> list[str]:
    """Every check whose built count is not the seeded one (missing counts included)."""
    return [
        f"{key}: seeded {want}, built {seen.get(key, 'nothing')}"
        for key, want in expected.items()
        if seen.get(key) != want
    ]


def verified_lines(expected: dict[str, int]) -> list[str]:
    """One line per group of checks, each count as seeded (and built)."""
    groups: dict[str, list[str]] = {}
    for key, want in expected.items():
        group, _, name = key.partition(".")
        groups.setdefault(group, []).append(f"{name} {want:,}")
    what = {
        "figures": f"{WEEK} figures (per trio, per LA, schools)",
        "researchers": f"{WEEK} researcher digest totals and rows by kind",
        "schools": f"{WEEK} shared digest totals and rows by kind",
        "exports": f"{WEEK} export tables' rows (CSV read back, XLSX sheets)",
        "year": "full-year export's rows",
    }
    return [
        f"verified: {what.get(g, g)} equal the seeded programme's: {', '.join(names)}"
        for g, names in groups.items()
    ]


def _kinds(prefix: str, rows: Any) -> dict[str, float]:
    counts = rows["kind"].value_counts()
    kinds = (*PARTS, "reflection")
    return {f"{prefix}.{kind}": float(counts.get(kind, 0)) for kind in kinds}


def _digests(db: object, now: object) -> object:
    from bot.digest.compile import Options
    from bot.digest.service import Digests
    from bot.texts import Texts

    return Digests(db, Texts(), ZONE, Options(), lambda: now)  # type: ignore[arg-type]


async def _week(path: Path | str) -> dict[str, float]:
    """The week built twice in one process: first as the first digest of a fresh process
    (its templates loaded — from Jinja's cache on disk once any process has compiled them,
    as Python loads its own from __pycache__ —, matplotlib's fonts loaded, SQLite's page
    cache empty), then as a running bot builds each later week (the `warm_` figures). Both
    must give the same."""
    import bot.digest.exports  # noqa: F401  (the libraries loaded before the baseline)
    from storage.store import open_store

    db = await open_store(path)
    baseline = peak_rss_mb()
    try:
        with tempfile.TemporaryDirectory() as folder:
            first = await _build(db, Path(tempfile.mkdtemp(dir=folder)))
            again = await _build(db, Path(tempfile.mkdtemp(dir=folder)))
            times, (week, shared, research, tables), _ = first
            seen = _seen_week(week, shared, research, tables, first[2])
            warm, (_, shared_again, research_again, _), _ = again
            same = (shared.html, research.html) == (shared_again.html, research_again.html)
            seen["exports.built_again_the_same"] = int(same)
    finally:
        await db.close()
    return (
        seen
        | times
        | {f"warm_{k}": v for k, v in warm.items()}
        | {
            "contributions": float(len(week.contributions)),
            "html_kb_shared": len(shared.html) / 1024,
            "html_kb_researchers": len(research.html) / 1024,
            "message_parts": float(len(research.message)),
            "baseline_mb": baseline,
            "peak_mb": peak_rss_mb(),
        }
    )


async def _build(db: Any, folder: Path) -> tuple[dict[str, float], tuple[Any, ...], Path]:
    """One week's two digests with their exports, compiled afresh (not from the archive)."""
    from datetime import UTC, datetime

    from bot.digest.exports import write_csv, write_xlsx

    async with db.transaction() as tx:  # measure a fresh compilation, not the archive
        await tx.execute("DELETE FROM digest")
    digests = _digests(db, datetime(2026, 11, 23, 9, tzinfo=UTC))
    started, cpu_started = time.perf_counter(), time.process_time()
    week = await digests.week(WEEK)  # type: ignore[attr-defined]
    compiled, cpu_compiled = time.perf_counter(), time.process_time()
    shared = digests.render(week, "schools", "en")  # type: ignore[attr-defined]
    research = digests.render(week, "researchers", "en")  # type: ignore[attr-defined]
    rendered, cpu_rendered = time.perf_counter(), time.process_time()
    tables = week.export_tables()
    write_csv(tables["contributions"], folder / "c.csv")
    write_csv(tables["participation"], folder / "p.csv")
    write_xlsx(tables, folder / "e.xlsx")
    done, cpu_done = time.perf_counter(), time.process_time()
    return (
        {
            "compile_s": compiled - started,
            "render_s": rendered - compiled,
            "export_s": done - rendered,
            "total_s": done - started,
            "compile_cpu_s": cpu_compiled - cpu_started,
            "render_cpu_s": cpu_rendered - cpu_compiled,
            "export_cpu_s": cpu_done - cpu_rendered,
            "total_cpu_s": cpu_done - cpu_started,
        },
        (week, shared, research, tables),
        folder,
    )


def _seen_week(
    week: Any, shared: Any, research: Any, tables: dict[str, Any], folder: Path
) -> dict[str, float]:
    """What the built digests and exports hold, counted after the clock stopped."""
    import csv
    import zipfile

    from bot.digest.render import digest_values

    figures = week.compiled
    by_trio, by_la = figures.figure("by_trio"), figures.figure("by_la")
    seen: dict[str, float] = {
        "figures.trios": len(by_trio),
        "figures.schools": len(figures.figure("schools")),
        "figures.las": len(by_la),
        "figures.people": int(by_trio["members"].sum()),
        "figures.delivered": int(by_trio["delivered"].sum()),
        "figures.answered": int(by_trio["answered"].sum()),
        "figures.la_delivered": int(by_la["delivered"].sum()),
        "figures.la_answered": int(by_la["answered"].sum()),
        "figures.meetings": int(by_trio["meetings_scheduled"].sum()),
        "figures.meetings_held": int(by_trio["meetings_held"].sum()),
    }
    for audience, rows in (("researchers", week.contributions), ("schools", week.shared)):
        totals = digest_values(figures, rows, week.key, audience, owners=week.owners)["totals"]
        for name in ("reflections", "summaries", "actions", "barriers"):
            seen[f"{audience}.{name}"] = totals[name]
        if audience == "researchers":
            seen["researchers.voice_notes"] = totals["voice_notes"]
        seen |= _kinds(f"{audience}.rows", rows)
    # The message says the week's response figures as the figures have them.
    said = f"({seen['figures.answered']:.0f} of {seen['figures.delivered']:.0f})"
    pages = bool(shared.html) and bool(research.html)
    seen["researchers.message_and_pages"] = int(said in research.message[0] and pages)
    contributions = tables["contributions"]
    with (folder / "c.csv").open(newline="", encoding="utf-8") as read:
        csv_rows = sum(1 for _ in csv.reader(read)) - 1
    with zipfile.ZipFile(folder / "e.xlsx") as book:
        sheets = sum(n.startswith("xl/worksheets/sheet") for n in book.namelist())
    actions = tables["actions"]
    return seen | {
        "exports.contributions": len(contributions),
        "exports.contributions_csv": csv_rows,
        "exports.participation": len(tables["participation"]),
        "exports.actions": len(actions),
        "exports.actions_with_words": int((actions["what"] != "").sum()),
        **{f"exports.{t}": len(tables[t]) for t in RESEARCH_TABLES[1:]},
        "exports.xlsx_sheets": sheets,
    }


async def _year(path: Path | str) -> dict[str, float]:
    from datetime import UTC, datetime

    from bot.digest.exports import write_csv, write_xlsx
    from storage.store import open_store

    db = await open_store(path)
    baseline = peak_rss_mb()
    try:
        digests = _digests(db, datetime(2026, 11, 23, 9, tzinfo=UTC))
        started, cpu_started = time.perf_counter(), time.process_time()
        tables = await digests.export_everything()  # type: ignore[attr-defined]
        compiled, cpu_compiled = time.perf_counter(), time.process_time()
        with tempfile.TemporaryDirectory() as folder:
            write_csv(tables["contributions"], Path(folder) / "all.csv")
            write_csv(tables["participation"], Path(folder) / "all-participation.csv")
            csv_done, cpu_csv_done = time.perf_counter(), time.process_time()
            write_xlsx(tables, Path(folder) / "all.xlsx")
            xlsx_done, cpu_xlsx_done = time.perf_counter(), time.process_time()
            xlsx_mb = (Path(folder) / "all.xlsx").stat().st_size / 1e6
    finally:
        await db.close()
    return {
        "compile_s": compiled - started,
        "csv_s": csv_done - compiled,
        "xlsx_s": xlsx_done - csv_done,
        "total_csv_s": csv_done - started,
        "total_xlsx_s": (compiled - started) + (xlsx_done - csv_done),
        "compile_cpu_s": cpu_compiled - cpu_started,
        "csv_cpu_s": cpu_csv_done - cpu_compiled,
        "xlsx_cpu_s": cpu_xlsx_done - cpu_csv_done,
        "total_csv_cpu_s": cpu_csv_done - cpu_started,
        "total_xlsx_cpu_s": (cpu_compiled - cpu_started) + (cpu_xlsx_done - cpu_csv_done),
        "xlsx_mb": xlsx_mb,
        "rows": float(len(tables["contributions"])),
        "participation_rows": float(len(tables["participation"])),
        "year.contributions": len(tables["contributions"]),
        **_kinds("year.rows", tables["contributions"]),
        "year.participation": len(tables["participation"]),
        "year.actions": len(tables["actions"]),
        "year.actions_with_words": int((tables["actions"]["what"] != "").sum()),
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
    }


def _child(phase: str, args: argparse.Namespace) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--db", str(args.db),
         "--schools", str(args.schools), "--weeks", str(args.weeks)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reseed", action="store_true", help="make the programme again")
    parser.add_argument(
        "--db",
        help="a SQLite file (default bench/results/digest[-SCHOOLS].db), or a PostgreSQL"
        " server's URL: the run seeds a database of its own there, dropped after",
    )
    parser.add_argument("--schools", type=int, default=1100, help="schools (9 teachers each)")
    parser.add_argument("--weeks", type=int, default=52, help="weeks of the programme")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase (median)")
    parser.add_argument("--phase", choices=["seed", "week", "year"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.db is None:
        default = args.schools == 1100 and args.weeks == 52
        size = "" if default else f"-{args.schools}x{args.weeks}"
        args.db = RESULTS / f"digest{size}.db"
    elif not is_postgres(args.db):
        args.db = Path(args.db)
    if args.phase is not None:
        if args.phase == "seed":
            result = asyncio.run(_seed(args.db, args.schools, args.weeks))
        else:
            result = asyncio.run({"week": _week, "year": _year}[args.phase](args.db))
        print(json.dumps(result))
        return
    print(f"machine: {describe()}")
    if is_postgres(args.db):
        with scratch_database(args.db, "digest") as url:
            print(f"store: PostgreSQL, {safe_url(url)}")
            _measure(argparse.Namespace(**{**vars(args), "db": url, "reseed": True}))
            _made_path(url).unlink(missing_ok=True)
        return
    print("store: SQLite")
    _measure(args)


def _measure(args: argparse.Namespace) -> None:
    """Seed (once, for a SQLite file), build, check: the same on either store."""
    if not is_postgres(args.db):
        args.db.parent.mkdir(parents=True, exist_ok=True)
    if is_postgres(args.db):
        started = time.perf_counter()
        counts = _child("seed", args)
        print(f"seeded {safe_url(args.db)} in {time.perf_counter() - started:.0f} s: {counts}")
    elif args.reseed or not args.db.exists() or not _made_path(args.db).exists():
        for stale in args.db.parent.glob(args.db.name + "*"):  # the file, its WAL, made.json
            stale.unlink()
        started = time.perf_counter()
        counts = _child("seed", args)
        print(f"seeded {args.db} in {time.perf_counter() - started:.0f} s: {counts}")
    made = json.loads(_made_path(args.db).read_text())
    weeks = [_child("week", args) for _ in range(args.repeat)]
    for run in weeks:
        _print_week(run)
    years = [_child("year", args) for _ in range(args.repeat)]
    for run in years:
        _print_year(run)
    if args.repeat > 1:
        print(f"median of {args.repeat} runs each:")
        _print_week(_median(weeks))
        _print_year(_median(years))
    expected = expected_week(made) | expected_year(made)
    # Every run must have done all of it, not only the first.
    failed = [f for run in weeks + years for f in failures(_part(expected, run), run)]
    if failed:
        for line in dict.fromkeys(failed):
            print(f"NOT VERIFIED: {line}")
        sys.exit(1)
    for line in verified_lines(expected):
        print(line)


def _part(expected: dict[str, int], run: dict[str, float]) -> dict[str, int]:
    """The checks of the phase `run` is from (a week's or the year's)."""
    year = "csv_s" in run
    return {k: v for k, v in expected.items() if k.startswith("year.") == year}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _print_week(week: dict[str, float]) -> None:
    print(
        f"week {WEEK}, both digests + exports, the first in a fresh process:"
        f" {week['total_s']:.2f} s"
        f" (compile {week['compile_s']:.2f}, render {week['render_s']:.2f},"
        f" export {week['export_s']:.2f}); CPU {week['total_cpu_s']:.2f} s"
        f" ({week['compile_cpu_s']:.2f}, {week['render_cpu_s']:.2f},"
        f" {week['export_cpu_s']:.2f}); peak {week['peak_mb']:.0f} MB"
        f" (interpreter and libraries {week['baseline_mb']:.0f} MB);"
        f" {week['contributions']:.0f} contributions; HTML {week['html_kb_shared']:.0f} KB shared,"
        f" {week['html_kb_researchers']:.0f} KB researchers; targets < 1 s, < 500 MB"
    )
    print(
        f"  the same week built again in that process, as a running bot builds each week:"
        f" {week['warm_total_s']:.2f} s (compile {week['warm_compile_s']:.2f},"
        f" render {week['warm_render_s']:.2f}, export {week['warm_export_s']:.2f});"
        f" CPU {week['warm_total_cpu_s']:.2f} s ({week['warm_compile_cpu_s']:.2f},"
        f" {week['warm_render_cpu_s']:.2f}, {week['warm_export_cpu_s']:.2f})"
    )


def _print_year(year: dict[str, float]) -> None:
    print(
        f"full-year export: {year['rows']:.0f} contributions, {year['participation_rows']:.0f}"
        f" participation rows; compile {year['compile_s']:.2f} s"
        f" (CPU {year['compile_cpu_s']:.2f}); CSV {year['csv_s']:.2f} s"
        f" (CPU {year['csv_cpu_s']:.2f}; total {year['total_csv_s']:.2f},"
        f" CPU {year['total_csv_cpu_s']:.2f}); XLSX {year['xlsx_s']:.2f} s"
        f" (CPU {year['xlsx_cpu_s']:.2f}; total {year['total_xlsx_s']:.2f},"
        f" CPU {year['total_xlsx_cpu_s']:.2f}; {year['xlsx_mb']:.0f} MB);"
        f" peak {year['peak_mb']:.0f} MB;"
        " target < 15 s"
    )


if __name__ == "__main__":
    main()
