"""The exports' own XLSX writer, read back with openpyxl: every cell equals the data, and text
Excel would choke on (control characters, over-long cells, formulas) comes out safe."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from openpyxl import load_workbook

from bot.digest.exports import write_csv, write_xlsx
from bot.digest.xlsx import (
    CHUNK_ROWS,
    MAX_CELL_CHARS,
    MAX_WIDTH,
    MIN_WIDTH,
    TRUNCATED,
    column_letter,
    excel_text,
)
from storage.db import Database
from tests.digest_programme import research_work, seed
from tests.test_digest import WEEK, digests

pytestmark = pytest.mark.both_stores

HOSTILE = [
    '=HYPERLINK("http://example.invalid")',
    "+1",
    "-2",
    "@SUM(A1)",
    "  leading and trailing  ",
    "line one\r\nline two\rthree\tfour",
    "bell\x07 null\x00 escape\x1b ok",
    "a & b < c > d \" ' ]]>",
    "ümlaut, ñ, 中文, emoji 🧪",
]


def _read(target: io.BytesIO | str, sheet: str, read_only: bool = True) -> list[tuple[object, ...]]:
    book = load_workbook(target, read_only=read_only)
    return list(book[sheet].iter_rows(values_only=True))


def _expected(value: object) -> object:
    """What a cell should read back as: empty for missing and "", otherwise the value."""
    if value is None or value is pd.NA or value == "":
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _table(rows: int) -> pd.DataFrame:
    text = pd.array([f"row {i}: {HOSTILE[i % len(HOSTILE)]}" for i in range(rows)], dtype="str")
    return pd.DataFrame(
        {
            "text": text,
            "kind": pd.array([["reflection", "summary", "", None][i % 4] for i in range(rows)]),
            "count": [i * 7 for i in range(rows)],
            "rate": [float("nan") if i % 5 == 0 else i / 3 for i in range(rows)],
            "flag": [i % 2 == 0 for i in range(rows)],
        }
    )


def test_every_cell_reads_back_as_the_data() -> None:
    table = _table(2 * CHUNK_ROWS + 17)  # several chunks, and one part-chunk
    other = pd.DataFrame({"level": ["trio", "local_authority"], "delivered": [3, 0]})
    out = io.BytesIO()
    write_xlsx({"contributions": table, "participation": other}, out)
    for read_only in (True, False):
        rows = _read(out, "contributions", read_only)
        assert rows[0] == tuple(table.columns)
        assert len(rows) == len(table) + 1
        for got, want in zip(rows[1:], table.itertuples(index=False, name=None), strict=True):
            cleaned = tuple(_expected(excel_text(v) if isinstance(v, str) else v) for v in want)
            assert got == cleaned
        assert _read(out, "participation", read_only) == [
            ("level", "delivered"),
            ("trio", 3),
            ("local_authority", 0),
        ]


async def test_a_seeded_week_reads_back_cell_for_cell(db: Database) -> None:
    await seed(db, las=3, schools=6, teachers_per_school=3, weeks=3, trio_work=True)
    await research_work(db, WEEK)
    tables = (await digests(db).week(WEEK)).export_tables()
    out = io.BytesIO()
    write_xlsx(tables, out)
    assert (
        load_workbook(out).sheetnames
        == list(tables)
        == [
            "contributions",
            "participation",
            "actions",
            "action_history",
            "lesson_study",
            "attendance",
            "questions",
            "researcher_replies",
        ]
    )
    for name, table in tables.items():
        rows = _read(out, name)
        assert rows[0] == tuple(table.columns)
        want = [tuple(_expected(v) for v in row) for row in table.astype(object).values.tolist()]
        assert rows[1:] == want and len(want) >= 2, name
    assert len(tables["contributions"]) > 5


def test_each_sheet_has_a_bold_frozen_header_filters_and_fitted_widths() -> None:
    table = pd.DataFrame(
        {
            "week": ["2026-W47"] * 3,
            "text": ["short", "a much longer text " * 10, "two\nlines"],
            "n": [1, 22, 333_333],
            "multi": ["first line\nsecond", "x", None],
            "a_long_header": ["y", "", None],
            "x": [1, 2, 3],
        }
    )
    out = io.BytesIO()
    write_xlsx({"contributions": table, "empty": table.iloc[:0]}, out)
    with zipfile.ZipFile(out) as book:
        sheet = etree.fromstring(book.read("xl/worksheets/sheet1.xml"))
        workbook = etree.fromstring(book.read("xl/workbook.xml"))
        styles = etree.fromstring(book.read("xl/styles.xml"))
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    pane = sheet.find("m:sheetViews/m:sheetView/m:pane", ns)
    assert pane is not None
    assert (pane.get("state"), pane.get("ySplit"), pane.get("topLeftCell")) == ("frozen", "1", "A2")
    assert [c.tag.split("}")[1] for c in sheet] == ["sheetViews", "cols", "sheetData", "autoFilter"]
    assert sheet.find("m:autoFilter", ns).get("ref") == "A1:F4"  # type: ignore[union-attr]
    widths = [float(c.get("width", 0)) for c in sheet.findall("m:cols/m:col", ns)]
    # the longest value (a line of it), or the name and room for the filter's button, plus 1
    assert widths == [
        len("2026-W47") + 1,
        MAX_WIDTH,
        len("333333") + 1,
        len("first line") + 1,
        len("a_long_header") + 3 + 1,
        MIN_WIDTH,  # "x" and "1" would make it narrower than its filter button
    ]
    header = sheet.findall("m:sheetData/m:row", ns)[0]
    bold = styles.findall("m:cellXfs/m:xf", ns)[int(header[0].get("s", 0))]
    font = styles.findall("m:fonts/m:font", ns)[int(bold.get("fontId", 0))]
    assert font.find("m:b", ns) is not None
    names = workbook.findall("m:definedNames/m:definedName", ns)
    assert [(n.get("localSheetId"), n.text) for n in names] == [
        ("0", "'contributions'!$A$1:$F$4"),
        ("1", "'empty'!$A$1:$F$1"),
    ]
    # What a spreadsheet program sees.
    book = load_workbook(out)
    assert book["contributions"].freeze_panes == "A2"
    assert book["contributions"].auto_filter.ref == "A1:F4"
    assert book["contributions"].column_dimensions["B"].width == MAX_WIDTH
    assert book["contributions"]["A1"].font.b and not book["contributions"]["A2"].font.b
    assert book["empty"].auto_filter.ref == "A1:F1"


def test_excel_hostile_text_is_made_safe() -> None:
    long_text = "x" * (MAX_CELL_CHARS + 100)
    wide = "🧪" * MAX_CELL_CHARS  # two UTF-16 units each, as Excel counts
    table = pd.DataFrame({"text": [*HOSTILE, long_text, wide, "\x01\x02"]})
    out = io.BytesIO()
    write_xlsx({"contributions": table}, out)
    book = load_workbook(out)  # not read-only: data types are visible
    cells = [row[0] for row in book["contributions"].iter_rows(min_row=2)]
    values = [cell.value for cell in cells]
    assert values[:6] == HOSTILE[:6]  # formulas as text; spaces, CR, LF and tab survive
    assert all(cell.data_type == "s" for cell in cells[:4])
    assert values[6] == "bell null escape ok"  # control characters removed
    assert values[7] == HOSTILE[7] and values[8] == HOSTILE[8]
    assert values[9] == "x" * (MAX_CELL_CHARS - len(TRUNCATED)) + TRUNCATED
    assert len(str(values[9])) == MAX_CELL_CHARS
    assert str(values[10]).endswith(TRUNCATED)
    assert len(str(values[10]).encode("utf-16-le")) // 2 <= MAX_CELL_CHARS
    assert values[11] is None  # nothing left of it


def test_the_package_is_well_formed() -> None:
    out = io.BytesIO()
    write_xlsx({"contributions": _table(20), "participation": _table(3)}, out)
    with zipfile.ZipFile(out) as book:
        assert book.testzip() is None
        names = set(book.namelist())
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet2.xml"} <= names
        for name in names:
            etree.fromstring(book.read(name))  # raises on malformed XML
    assert load_workbook(out).sheetnames == ["contributions", "participation"]


def test_column_letters_odd_values_and_sheet_names() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 51, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "ZZ",
        "AAA",
    ]
    mixed = pd.DataFrame({"v": [1, True, 1.0, ["a", "b"], None]}, dtype=object)
    out = io.BytesIO()
    write_xlsx({"mixed": mixed}, out)  # True == 1 == 1.0, and a list cannot be a dict key
    assert _read(out, "mixed") == [("v",), (1,), (True,), (1,), ("['a', 'b']",), (None,)]
    with pytest.raises(ValueError, match="sheet name"):
        write_xlsx({"a/b": _table(1)}, io.BytesIO())


def test_csv_cells_that_look_like_formulas_are_quoted(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {"text": [*HOSTILE[:4], "plain", "a=b", None], "count": [-1, 2, 3, 4, 5, 6, 7]}
    )
    write_csv(table, tmp_path / "c.csv")
    back = pd.read_csv(tmp_path / "c.csv", keep_default_na=False)
    assert list(back["text"]) == [
        "'" + HOSTILE[0],
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "plain",
        "a=b",
        "",
    ]
    assert list(back["count"]) == [-1, 2, 3, 4, 5, 6, 7]  # numbers are numbers, not text
    assert table["text"].iloc[0] == HOSTILE[0]  # the table itself is left alone
