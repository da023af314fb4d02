"""The digest's outputs are the same, byte for byte, as before its compile and render paths
were made faster (issue 22): both digests (Telegram text and HTML, every language), their
charts, every export table as CSV and as XLSX, for a past week (compiled, then read back from
the archive), for the week in progress, and for the export of everything.

tests/golden/digest_outputs.json holds the SHA-256 of each output, written at 1490c21 (before
the work) with `python -m tests.test_digest_golden --write` (on SQLite). The same outputs
come from a programme kept on PostgreSQL: the test runs on both stores. A change that means
to change an output writes the file again and says so in its commit. The chart PNGs are
compared byte for byte only under the matplotlib version they were drawn with (its text
rendering and the PNG's metadata change between versions); under another one the page is
still compared with each chart's data replaced by its pixel size.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import struct
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import pytest

from bot.digest.compile import Options
from bot.digest.exports import write_csv, write_xlsx
from bot.digest.render import AUDIENCES
from bot.digest.service import Digests
from bot.texts import LANGUAGES, Texts
from storage.db import Database
from storage.store import open_store
from tests.digest_programme import ZONE, research_work, seed

GOLDEN = Path(__file__).resolve().parent / "golden" / "digest_outputs.json"
WEEK = "2026-W47"
AFTER_WEEK = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the Monday after WEEK
MID_WEEK = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # Thursday of 2026-W48: a week so far
KEY = bytes(range(32))  # a fixed pseudonym key, so the pseudonyms are the same every run
CHART = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
pytestmark = pytest.mark.both_stores


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _png_size(png: bytes) -> str:
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    return f"{width}x{height}"


def _page_without_charts(html: bytes) -> bytes:
    text = html.decode("utf-8")
    return CHART.sub(lambda m: "chart:" + _png_size(base64.b64decode(m.group(1))), text).encode()


def _tables(prefix: str, tables: dict[str, object], folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, table in tables.items():
        path = folder / f"{prefix}-{name}.csv"
        write_csv(table, path)  # type: ignore[arg-type]
        found[f"{prefix}/{name}.csv"] = _sha(path.read_bytes())
    book = folder / f"{prefix}.xlsx"
    write_xlsx(tables, book)  # type: ignore[arg-type]
    with zipfile.ZipFile(book) as opened:  # the parts, not the zip (it dates its entries)
        for part in sorted(opened.namelist()):
            found[f"{prefix}/xlsx/{part}"] = _sha(opened.read(part))
    return found


async def _programme(target: Path | str) -> Database:
    db = await open_store(target)
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO meta (key, value) VALUES ('pseudonym_key', ?)", (KEY,))
    await seed(
        db, las=3, schools=9, teachers_per_school=3, weeks=5, withdrawn_share=0.2, trio_work=True
    )
    await research_work(db, WEEK)
    return db


def _digests(db: Database, now: datetime) -> Digests:
    return Digests(db, Texts(), ZONE, Options(quiet_weeks=3, trend_weeks=4), lambda: now)


async def outputs(
    folder: Path, target: Path | str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """(what must be the same under any matplotlib, the chart PNGs' hashes), of the
    programme built in `target` (a new SQLite file in `folder` by default)."""
    found: dict[str, str] = {}
    charts: dict[str, str] = {}
    db = await _programme(folder / "golden.db" if target is None else target)
    try:
        for label, now in (
            ("compiled", AFTER_WEEK),
            ("archived", AFTER_WEEK),
            ("so-far", MID_WEEK),
        ):
            digests = _digests(db, now)
            week = await digests.week(WEEK if label != "so-far" else "2026-W48")
            for audience in AUDIENCES:
                for lang in LANGUAGES:
                    done = digests.render(week, audience, lang)
                    name = f"{label}/{audience}/{lang}"
                    found[f"{name}/message"] = _sha("\n\x00\n".join(done.message).encode())
                    found[f"{name}/html"] = _sha(_page_without_charts(done.html))
                    found[f"{name}/filename"] = done.filename
                    for chart, png in sorted(done.charts.items()):
                        found[f"{name}/chart/{chart}"] = _png_size(png)
                        charts[f"{name}/chart/{chart}"] = _sha(png)
                    charts[f"{name}/html"] = _sha(done.html)
            found.update(_tables(label, week.export_tables(), folder))
        everything = await _digests(db, MID_WEEK).export_everything()
        found.update(_tables("everything", everything, folder))
    finally:
        await db.close()
    return found, charts


def _run(target: Path | str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(outputs(Path(folder), target))


def test_the_outputs_are_the_ones_recorded(db_path: Path | str) -> None:
    golden = json.loads(GOLDEN.read_text())
    found, charts = _run(db_path)
    assert len(found) > 120  # every audience, language, week and table was built
    differ = sorted(
        k
        for k in golden["outputs"].keys() | found.keys()
        if golden["outputs"].get(k) != found.get(k)
    )
    assert not differ, f"{len(differ)} outputs differ from {GOLDEN.name}: {differ[:20]}"
    if golden["matplotlib"] == matplotlib.__version__:
        differ = sorted(
            k
            for k in golden["charts"].keys() | charts.keys()
            if golden["charts"].get(k) != charts.get(k)
        )
        assert not differ, f"{len(differ)} charts differ: {differ[:20]}"


def test_a_changed_output_is_seen() -> None:
    """The comparison above is not blind: one table's row less changes its hashes."""
    with tempfile.TemporaryDirectory() as folder:
        tables = {"t": __import__("pandas").DataFrame({"a": [1, 2], "b": ["x", "=y"]})}
        whole = _tables("x", tables, Path(folder))
        shorter = _tables("x", {"t": tables["t"].head(1)}, Path(folder))
    assert whole["x/t.csv"] != shorter["x/t.csv"]
    assert whole["x/xlsx/xl/worksheets/sheet1.xml"] != shorter["x/xlsx/xl/worksheets/sheet1.xml"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_digest_golden --write")
    found, charts = _run()
    GOLDEN.parent.mkdir(exist_ok=True)
    record = {"matplotlib": matplotlib.__version__, "outputs": found, "charts": charts}
    GOLDEN.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(found)} outputs and {len(charts)} charts to {GOLDEN}")
