"""Digests at the largest network's scale: one week's two digests with exports, and a year.

A synthetic programme (tests/digest_programme.py): 1,100 schools in 10 local authorities,
366 trios, 9,900 teachers, 52 weeks of weekly reflection prompts (60 % answered, 5 % of those
voice notes, 2 % of people withdrawn), a trio meeting every fourth week with an agreed or draft
summary (focus, three schools' practice, a tagged barrier, two actions, sometimes a question).

Each measured phase runs in a fresh process, so its peak memory is its own:
  week — compile the last week (all sources, not archived yet), render the shared and the
         researcher digest (Telegram text, HTML, two charts), write CSV and XLSX exports;
  year — `triobot export`: every week's contributions and participation, as CSV and as XLSX.

    .venv/bin/python bench/digest.py            # seeds bench/results/digest.db once (~1 min)
    .venv/bin/python bench/digest.py --reseed
    .venv/bin/python bench/digest.py --repeat 5 # each phase 5 times, then the medians

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
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe, peak_rss_mb

RESULTS = Path(__file__).resolve().parent / "results"
WEEK = "2026-W47"
ZONE = ZoneInfo("Europe/London")


async def _seed(path: Path) -> dict[str, int]:
    from storage.db import Database
    from tests.digest_programme import seed

    db = await Database.open(path)
    try:
        found = await seed(
            db, las=10, schools=1100, teachers_per_school=9, weeks=52, last_week=WEEK,
            withdrawn_share=0.02, trio_work=True,
        )  # fmt: skip
        counts = {
            "teachers": found.teachers,
            "trios": found.trios,
            "reflections": found.reflections,
            "summary_items": int(await db.fetchval("SELECT COUNT(*) FROM summary_item")),
            "meetings": int(await db.fetchval("SELECT COUNT(*) FROM meeting")),
        }
    finally:
        await db.close()
    return counts


def _digests(db: object, now: object) -> object:
    from bot.digest.compile import Options
    from bot.digest.service import Digests
    from bot.texts import Texts

    return Digests(db, Texts(), ZONE, Options(), lambda: now)  # type: ignore[arg-type]


async def _week(path: Path) -> dict[str, float]:
    from datetime import UTC, datetime

    from bot.digest.exports import write_csv, write_xlsx
    from storage.db import Database

    db = await Database.open(path)
    baseline = peak_rss_mb()
    try:
        async with db.transaction() as tx:  # measure a fresh compilation, not the archive
            await tx.execute("DELETE FROM digest")
        digests = _digests(db, datetime(2026, 11, 23, 9, tzinfo=UTC))
        started, cpu_started = time.perf_counter(), time.process_time()
        week = await digests.week(WEEK)  # type: ignore[attr-defined]
        compiled, cpu_compiled = time.perf_counter(), time.process_time()
        shared = digests.render(week, "schools", "en")  # type: ignore[attr-defined]
        research = digests.render(week, "researchers", "en")  # type: ignore[attr-defined]
        rendered, cpu_rendered = time.perf_counter(), time.process_time()
        with tempfile.TemporaryDirectory() as folder:
            tables = week.export_tables()
            write_csv(tables["contributions"], Path(folder) / "c.csv")
            write_csv(tables["participation"], Path(folder) / "p.csv")
            write_xlsx(tables, Path(folder) / "e.xlsx")
        done, cpu_done = time.perf_counter(), time.process_time()
    finally:
        await db.close()
    return {
        "compile_s": compiled - started,
        "render_s": rendered - compiled,
        "export_s": done - rendered,
        "total_s": done - started,
        "compile_cpu_s": cpu_compiled - cpu_started,
        "render_cpu_s": cpu_rendered - cpu_compiled,
        "export_cpu_s": cpu_done - cpu_rendered,
        "total_cpu_s": cpu_done - cpu_started,
        "contributions": float(len(week.contributions)),
        "html_kb_shared": len(shared.html) / 1024,
        "html_kb_researchers": len(research.html) / 1024,
        "message_parts": float(len(research.message)),
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
    }


async def _year(path: Path) -> dict[str, float]:
    from datetime import UTC, datetime

    from bot.digest.exports import write_csv, write_xlsx
    from storage.db import Database

    db = await Database.open(path)
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
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
    }


def _child(phase: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--db", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reseed", action="store_true", help="make the programme again")
    parser.add_argument("--db", type=Path, default=RESULTS / "digest.db")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase (median)")
    parser.add_argument("--phase", choices=["seed", "week", "year"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        work = {"seed": _seed, "week": _week, "year": _year}[args.phase]
        print(json.dumps(asyncio.run(work(args.db))))  # type: ignore[operator]
        return
    print(f"machine: {describe()}")
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if args.reseed or not args.db.exists():
        for stale in args.db.parent.glob(args.db.name + "*"):  # the file and its WAL
            stale.unlink()
        started = time.perf_counter()
        counts = _child("seed", args.db)
        print(f"seeded {args.db} in {time.perf_counter() - started:.0f} s: {counts}")
    weeks = [_child("week", args.db) for _ in range(args.repeat)]
    for run in weeks:
        _print_week(run)
    years = [_child("year", args.db) for _ in range(args.repeat)]
    for run in years:
        _print_year(run)
    if args.repeat > 1:
        print(f"median of {args.repeat} runs each:")
        _print_week(_median(weeks))
        _print_year(_median(years))


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _print_week(week: dict[str, float]) -> None:
    print(
        f"week {WEEK}, both digests + exports: {week['total_s']:.2f} s"
        f" (compile {week['compile_s']:.2f}, render {week['render_s']:.2f},"
        f" export {week['export_s']:.2f}); CPU {week['total_cpu_s']:.2f} s"
        f" ({week['compile_cpu_s']:.2f}, {week['render_cpu_s']:.2f},"
        f" {week['export_cpu_s']:.2f}); peak {week['peak_mb']:.0f} MB"
        f" (interpreter and libraries {week['baseline_mb']:.0f} MB);"
        f" {week['contributions']:.0f} contributions; HTML {week['html_kb_shared']:.0f} KB shared,"
        f" {week['html_kb_researchers']:.0f} KB researchers; targets < 3 s, < 500 MB"
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
