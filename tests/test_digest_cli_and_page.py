"""The command line (`triobot digest build`, `triobot export`) and the HTML digests as a
browser shows them: headless Chromium (Debian's package) renders both, and a screenshot is
checked for the key sections and for having drawn something."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from bot.cli.main import main
from bot.digest.compile import last_complete_week
from storage.clock import utcnow
from storage.store import open_store
from tests.digest_programme import ZONE, seed

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
LAST = last_complete_week(utcnow(), ZONE)
pytestmark = pytest.mark.both_stores


def _seed(db_path: Path | str) -> None:
    async def go() -> None:
        db = await open_store(db_path)
        try:
            await seed(db, las=3, schools=9, teachers_per_school=3, weeks=6, last_week=LAST,
                       trio_work=True)  # fmt: skip
        finally:
            await db.close()

    asyncio.run(go())


@pytest.fixture
def programme(tmp_path: Path, db_path: Path | str, monkeypatch: pytest.MonkeyPatch) -> Path:
    _seed(db_path)
    monkeypatch.setenv("TRIOBOT_DB", str(db_path))
    monkeypatch.setenv("TRIOBOT_TZ", "Europe/London")
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def test_digest_build_writes_the_digest_charts_and_exports(
    programme: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = programme / "out"
    code = main(["digest", "build", "--week", LAST, "--audience", "researchers", "--out", str(out)])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert f"triobot-digest-{LAST}-researchers-en.html" in names
    assert {f"chart-{LAST}-response_rate.png", f"chart-{LAST}-barriers.png"} <= set(names)
    assert {f"contributions-{LAST}.csv", f"participation-{LAST}.csv", f"export-{LAST}.xlsx"} <= set(
        names
    )
    for chart in out.glob("chart-*.png"):
        assert chart.read_bytes().startswith(b"\x89PNG")
    code = main(["digest", "build", "--week", LAST, "--audience", "schools", "--lang", "pt",
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and (out / f"triobot-digest-{LAST}-schools-pt.html").is_file()
    assert main(["digest", "build", "--week", "2099-W01", "--out", str(out)]) == 2
    assert "2099-W01 has not begun yet" in capsys.readouterr().out


def test_export_writes_every_week(programme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    assert main(["export", "--out", str(programme / "all.csv")]) == 0
    table = pd.read_csv(programme / "all.csv")
    assert table["week"].nunique() >= 5  # six weeks seeded; answers can spill into the next
    assert set(table.columns) >= {"person", "role", "school", "local_authority", "trio", "date",
                                  "kind", "tags", "text"}  # fmt: skip
    assert not table["person"].astype(str).str.fullmatch(r"\d+").any()
    participation = pd.read_csv(programme / "all-participation.csv")
    assert set(participation["level"]) == {"trio", "local_authority"}
    assert main(["export", "--out", str(programme / "all.xlsx")]) == 0
    assert (programme / "all.xlsx").stat().st_size > 5_000


@pytest.mark.sqlite_only  # what the browser draws is the same page, from either store
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not found: `apt-get install chromium` (scripts/test does it when it can)",
)
@pytest.mark.parametrize(
    ("audience", "sections"),
    [
        ("schools", ["at-a-glance", "themes", "barriers", "trios"]),
        ("researchers", ["at-a-glance", "themes", "barriers", "trios", "charts",
                         "participation", "questions", "drafts", "quiet", "stalled"]),
    ],
)  # fmt: skip
def test_headless_chromium_renders_the_html_digest(
    programme: Path, audience: str, sections: list[str]
) -> None:
    out = programme / "out"
    assert main(["digest", "build", "--week", LAST, "--audience", audience, "--out", str(out)]) == 0
    page = out / f"triobot-digest-{LAST}-{audience}-en.html"
    assert CHROMIUM is not None
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={programme / 'chromium-profile'}"]  # fmt: skip
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
        check=True,
    ).stdout  # fmt: skip
    for section in sections:
        assert f'id="{section}"' in dom, section
    shot = programme / f"{audience}.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", "--window-size=420,2400", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert 20_000 < shot.stat().st_size < 10_000_000
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (2400, 420)  # a phone-width page
    ink = (pixels[..., :3].mean(axis=2) < 0.6).mean()
    assert 0.01 < ink < 0.6, ink  # text and figures drawn, not a blank or a black page
    header = pixels[:60, :, :3].reshape(-1, 3)
    assert np.abs(header.mean(axis=0) - np.array([0x1B, 0x6C, 0xA8]) / 255).max() < 0.15
