"""Both HTML digests as headless Chromium lays them out: on a 390 px phone and a 1280 px
laptop, and on A4 paper. Nothing is wider than its box (no table cut off, no page scrolling
sideways), chart text shows at 11 px or more, answers keep their line breaks.

The screenshots and the PDFs are kept for a person to look at, in test-output/digest-page/
(or $TRIOBOT_TEST_OUTPUT); the test prints their paths (pytest -s shows them).
Headless Chromium will not make a window narrower than 500 px, so each page is shown in an
iframe exactly as wide as the screen it stands for (its media queries see the iframe's
width, as a phone's would); the screenshot is cropped to it. The measuring is done by a
copy of the page with a script added that posts what it measured to the frame around it,
which writes it into its DOM, read back with --dump-dom: the digests carry no script.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from matplotlib import image

from bot.digest import charts
from bot.digest.compile import week_bounds
from storage.db import Database, to_db_time
from tests.digest_programme import ZONE
from tests.test_digest import WEEK
from tests.test_digest_page import TAKE_BACK, archived_with_action_tags, programme_with_trio_work

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not found: `apt-get install chromium` (scripts/test does it when it can)",
)
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("TRIOBOT_TEST_OUTPUT", ROOT / "test-output")) / "digest-page"
PHONE, LAPTOP = 390, 1280
# A4 less the page's 1.5 cm margins (@page in prompts/digest_page.html.j2), in CSS px.
PRINT_WIDTH = round((210 - 2 * 15) / 25.4 * 96)
PRINT_CHART_MAX_HEIGHT = 9 / 2.54 * 96  # img.chart { max-height: 9cm } in print

MEASURE = """<script>
addEventListener("load", () => {
  const box = (t) => t.closest(".table") || t.parentElement;
  // For each line break in the text: does what follows it start lower than what precedes it?
  const breaks = (e) => {
    const found = [];
    const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      const text = node.textContent;
      const top = (at) => {
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + 1);
        return range.getBoundingClientRect().top;
      };
      for (let i = text.indexOf("\\n"); i > 0; i = text.indexOf("\\n", i + 1)) {
        if (i < text.length - 1) found.push(top(i + 1) > top(i - 1) + 1);
      }
    }
    return found;
  };
  let smallest = 99;
  for (const e of document.querySelectorAll("body *")) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (own && e.offsetParent !== null) {
      smallest = Math.min(smallest, parseFloat(getComputedStyle(e).fontSize));
    }
  }
  const found = {
    width: innerWidth,
    page: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    smallest: smallest,
    tables: [...document.querySelectorAll("table")].map((t) => ({
      section: t.closest("section").id, table: t.scrollWidth, box: box(t).clientWidth})),
    sections: [...document.querySelectorAll("section")].map((s) => ({
      section: s.id, scroll: s.scrollWidth, client: s.clientWidth})),
    charts: [...document.querySelectorAll("img.chart")].map((i) => ({
      shown: i.getBoundingClientRect().width, tall: i.getBoundingClientRect().height,
      natural: i.naturalWidth})),
    said: [...document.querySelectorAll(".said")]
      .filter((e) => e.textContent.includes("\\n"))
      .map((e) => ({text: e.textContent, breaks: breaks(e)})),
  };
  parent.postMessage(JSON.stringify(found), "*");
});
</script>
</body>"""
FRAME = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>body {{ margin:0; }} iframe {{ border:0;
display:block; width:{width}px; height:{height}px; }}</style></head>
<body><iframe src="{src}"></iframe>
<script>
addEventListener("message", (event) => {{
  const out = document.createElement("script");
  out.type = "application/json";
  out.id = "measured";
  out.textContent = event.data;
  document.body.append(out);
}});
</script></body></html>"""
SMALLEST_WINDOW = 500  # headless Chromium's narrowest window


def _frame(page: Path, width: int, height: int, name: str) -> Path:
    frame = page.with_name(f"{page.stem}.{name}-frame.html")
    frame.write_text(FRAME.format(width=width, height=height, src=page.name), "utf-8")
    return frame


def _browser(profile: Path, width: int, height: int) -> list[str]:
    assert CHROMIUM is not None
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--force-device-scale-factor=1", f"--window-size={width},{height}",
            f"--user-data-dir={profile}"]  # fmt: skip


def _measure(page: Path, profile: Path, width: int, *, printed: bool = False) -> dict[str, Any]:
    """Lay out a copy of `page` (with print rules applied on screen when `printed`) at
    `width` and read what the script measured."""
    html = page.read_text("utf-8").replace("</body>", MEASURE)
    if printed:
        html = html.replace("@media print {", "@media all {")
    copy = page.with_suffix(".print-measure.html" if printed else ".measure.html")
    copy.write_text(html, "utf-8")
    frame = _frame(copy, width, 2000, "measure")
    dom = subprocess.run(
        [*_browser(profile, max(width, SMALLEST_WINDOW), 2000), "--virtual-time-budget=5000",
         "--dump-dom", frame.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    copy.unlink()
    frame.unlink()
    found = re.search(r'<script type="application/json" id="measured">(.*?)</script>', dom, re.S)
    assert found, dom[-2000:]
    measured: dict[str, Any] = json.loads(found.group(1))
    return measured


def _screenshot(page: Path, profile: Path, width: int, height: int) -> Path:
    """The whole page at `width` (up to 16,000 px tall), as a PNG cropped to that width."""
    height = min(height, 16_000)
    shot = OUTPUT / f"{page.stem}-{width}px.png"
    frame = _frame(page, width, height, "shot")
    subprocess.run(
        [*_browser(profile, max(width, SMALLEST_WINDOW), height), f"--screenshot={shot}",
         frame.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    frame.unlink()
    pixels = image.imread(shot)[:, :width]
    image.imsave(shot, pixels)
    assert pixels.shape[:2] == (height, width)
    ink = (pixels[..., :3].mean(axis=2) < 0.6).mean()
    assert 0.01 < ink < 0.6, ink  # text and figures drawn, not a blank or a black page
    return shot


async def _partnership(db: Database) -> None:
    """The partnership loop in WEEK: trio 1's summary asked two questions; a researcher
    answered one at length, for sharing; the other is still open."""
    start, _ = week_bounds(WEEK, ZONE)
    friday = to_db_time(start + timedelta(days=4, hours=9))
    long_words = "A long answer that has to wrap on a phone, " * 12
    async with db.transaction() as tx:
        summary = await tx.fetchval("SELECT id FROM summary WHERE meeting_id = 900")
        for position, words in enumerate(("Is there research on oracy?", "What about Y6? " * 9)):
            item = await tx.execute(
                "INSERT INTO summary_item (summary_id, kind, body, position)"
                " VALUES (?, 'question', ?, ?)",
                (summary, json.dumps(words), 10 + position),
            )
            question = await tx.execute(
                "INSERT INTO research_question (trio_id, summary_id, summary_item_id, body,"
                " asked_by, asked_at) VALUES (1, ?, ?, ?, 1, ?)",
                (summary, item, json.dumps(words), friday),
            )
        await tx.execute(
            "INSERT INTO research_reply (kind, trio_id, question_id, author_id, body,"
            " shareable, sent_at) VALUES ('answer', 1, ?, 28, ?, 1, ?)",
            (question - 1, json.dumps(long_words), friday),
        )


@pytest.fixture
async def pages(db: Database) -> dict[str, Path]:
    """Both digests (English; the researchers' also in Portuguese, whose labels run longest)
    of a week with trio work, action owners and post-meeting reflections."""
    await programme_with_trio_work(db)
    await _partnership(db)
    service = await archived_with_action_tags(db)
    week = await service.week(WEEK)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    found = {}
    for audience, lang in (("schools", "en"), ("researchers", "en"), ("researchers", "pt")):
        rendered = service.render(week, audience, lang)  # type: ignore[arg-type]
        assert b"<script" not in rendered.html
        name = audience if lang == "en" else f"{audience}-{lang}"
        path = OUTPUT / f"digest-{name}.html"
        path.write_bytes(rendered.html)
        found[name] = path
    return found


def _fits(measured: dict[str, Any], width: int) -> None:
    assert measured["width"] == width
    assert measured["page"] <= width, "the page scrolls sideways"
    for table in measured["tables"]:
        assert table["table"] <= table["box"], table  # a table wider than its box is cut off
    for section in measured["sections"]:
        assert section["scroll"] <= section["client"], section


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_the_digests_fit_the_screen_and_keep_their_line_breaks(
    pages: dict[str, Path], tmp_path: Path, width: int
) -> None:
    for audience, page in pages.items():
        measured = _measure(page, tmp_path / "profile", width)
        _fits(measured, width)
        assert measured["smallest"] >= 12, measured["smallest"]
        assert measured["said"], "no answer with a line break on the page"
        for said in measured["said"]:
            assert said["breaks"] and all(said["breaks"]), said  # a new line at each break
        if audience.startswith("researchers"):
            assert TAKE_BACK in [s["text"] for s in measured["said"]]
            assert len(measured["charts"]) == 2
            # two participation tables, the actions, and the open questions by authority
            # and by trio (the partnership loop)
            assert len(measured["tables"]) == 5
        for chart in measured["charts"]:
            text_px = charts.shown_text_px(chart["shown"], chart["natural"])
            assert text_px >= charts.MIN_TEXT_PX, (chart, text_px)
            if width == PHONE:  # the width the charts' font sizes were computed for
                assert chart["shown"] >= charts.PHONE_CHART_PX, chart
        shot = _screenshot(page, tmp_path / "profile", width, measured["height"])
        print(f"\n{audience} at {width} px: {shot}")


def test_the_digests_print_on_a4(pages: dict[str, Path], tmp_path: Path) -> None:
    for audience, page in pages.items():
        measured = _measure(page, tmp_path / "profile", PRINT_WIDTH, printed=True)
        _fits(measured, PRINT_WIDTH)
        for chart in measured["charts"]:
            assert chart["shown"] <= PRINT_WIDTH
            assert chart["tall"] <= PRINT_CHART_MAX_HEIGHT + 1, chart
        pdf = OUTPUT / f"{page.stem}.pdf"
        subprocess.run(
            [*_browser(tmp_path / "profile", LAPTOP, 2000), "--no-pdf-header-footer",
             f"--print-to-pdf={pdf}", page.as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
        print(f"\n{audience} printed: {pdf}")
