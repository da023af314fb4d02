"""deploy/: the files README "Deploying" tells a person to copy, checked as far as the tools
here allow. systemd's own `systemd-analyze verify` reads the units (in a scratch root holding
the programs they name); `caddy adapt` reads the Caddyfile and the routes it makes are
checked; the backup script runs for real on a real database; and the paths, addresses and
names the files share agree with each other and with README."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.config import Settings
from bot.programme.demo import seed_demo
from storage.db import Database
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("triobot.service", "triobot-backup.service", "triobot-backup.timer")
SYSTEMD_UNITS = Path("/usr/lib/systemd/system")
README = (ROOT / "README.md").read_text()


def unit(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting, repeats kept (systemd allows them)."""
    section, found = "", []
    for raw in (DEPLOY / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def values(name: str, key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in unit(name) if s == section and k == key]


def one(name: str, key: str, section: str = "Service") -> str:
    found = values(name, key, section)
    assert len(found) == 1, f"{name}: {key}= {found}"
    return found[0]


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def programs(name: str) -> list[str]:
    return [v.split()[0].lstrip("-@:+!") for v in values(name, "ExecStart")]


# --- the units -------------------------------------------------------------------------------


def test_the_service_runs_as_its_own_user_with_its_state_under_var_lib() -> None:
    name = "triobot.service"
    assert one(name, "User") == one(name, "Group") == "triobot"
    assert one(name, "StateDirectory") == "triobot"
    assert one(name, "WorkingDirectory") == "/var/lib/triobot"
    assert "TRIOBOT_DB=/var/lib/triobot/triobot.db" in values(name, "Environment")
    assert one(name, "EnvironmentFile") == "/etc/triobot/env"
    assert one(name, "ExecStart") == "/opt/triobot/venv/bin/triobot run"
    assert one(name, "Restart") == "on-failure"
    assert float(one(name, "RestartSec")) >= 5
    assert one(name, "RestartPreventExitStatus") == "2"  # a bad setting: one line, no loop
    assert int(one(name, "StartLimitBurst", "Unit")) >= 3
    # The bot stops within 12 s of SIGTERM (README "Operating it"): systemd waits longer.
    assert one(name, "KillSignal") == "SIGTERM" and int(one(name, "TimeoutStopSec")) > 12
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/triobot",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert one(name, key) == value, key
    assert one(name, "WantedBy", "Install") == "multi-user.target"


def test_the_backup_runs_nightly_as_the_same_user_on_the_same_database() -> None:
    service, timer = "triobot-backup.service", "triobot-backup.timer"
    assert one(service, "Type") == "oneshot"
    for key in ("User", "Group", "StateDirectory", "EnvironmentFile", "ReadWritePaths"):
        assert one(service, key) == one("triobot.service", key), key
    assert "TRIOBOT_DB=/var/lib/triobot/triobot.db" in values(service, "Environment")
    assert "TRIOBOT_BACKUP_DIR=/var/lib/triobot/backups" in values(service, "Environment")
    assert one(service, "ExecStart") == (
        "/opt/triobot/src/deploy/triobot-backup.sh /opt/triobot/venv/bin/triobot"
    )
    assert one(timer, "OnCalendar", "Timer") == "*-*-* 02:30:00"
    assert one(timer, "Persistent", "Timer") == "true"  # a night the machine was off: at boot
    assert one(timer, "Unit", "Timer") == service
    assert one(timer, "WantedBy", "Install") == "timers.target"


def test_no_percent_sign_is_left_for_systemd_to_misread() -> None:
    """systemd expands `%x` specifiers in unit files; a literal % must be written %%. The
    units use none (the backup's date is formatted in its script)."""
    for name in UNITS:
        for _section, key, value in unit(name):
            assert re.search(r"%(?!%)", value.replace("%%", "")) is None, (name, key, value)


def scratch_root(tmp_path: Path, units: dict[str, str]) -> Path:
    """A filesystem root with systemd's own units, ours, and the programs ours start."""
    root = tmp_path / "root"
    shutil.copytree(SYSTEMD_UNITS, root / SYSTEMD_UNITS.relative_to("/"), symlinks=True)
    target = root / "etc/systemd/system"
    target.mkdir(parents=True)
    for name, text in units.items():
        (target / name).write_text(text)
    for name in units:
        if name.endswith(".service"):
            for program in programs(name):
                placed = root / program.lstrip("/")
                placed.parent.mkdir(parents=True, exist_ok=True)
                placed.write_text("#!/bin/sh\n")
                placed.chmod(0o755)
    return root


def verify(root: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "systemd-analyze",
            "verify",
            f"--root={root}",
            *(f"/etc/systemd/system/{n}" for n in names),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or not SYSTEMD_UNITS.is_dir(),
    reason="systemd-analyze is not installed here",
)
def test_systemd_verifies_the_units(tmp_path: Path) -> None:
    ours = {name: (DEPLOY / name).read_text() for name in UNITS}
    checked = verify(scratch_root(tmp_path, ours), list(UNITS))
    said = [line for line in (checked.stdout + checked.stderr).splitlines() if "triobot" in line]
    assert checked.returncode == 0 and said == [], checked.stdout + checked.stderr
    # The check sees what is wrong: a misspelt key, and a program that is not there.
    broken = ours["triobot.service"].replace("User=", "Usr=").replace("bin/triobot run", "bin/x")
    del ours["triobot-backup.timer"]  # it names the service, which is checked above
    root = scratch_root(tmp_path / "broken", {"triobot.service": ours["triobot.service"]})
    (root / "etc/systemd/system/triobot.service").write_text(broken)
    checked = verify(root, ["triobot.service"])
    out = checked.stdout + checked.stderr
    assert checked.returncode != 0 and "Unknown key 'Usr'" in out and "bin/x" in out


# --- the Caddyfile ---------------------------------------------------------------------------


def caddy_routes() -> tuple[list[str], list[dict[str, Any]]]:
    import json

    adapted = subprocess.run(
        ["caddy", "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config = json.loads(adapted.stdout)
    (server,) = config["apps"]["http"]["servers"].values()
    (site,) = server["routes"]
    (host_match,) = site["match"]
    (subroute,) = site["handle"]
    return host_match["host"], subroute["routes"]


def handlers(route: dict[str, Any]) -> list[dict[str, Any]]:
    """The handlers a route runs, through Caddy's nested subroutes."""
    found = []
    for handler in route["handle"]:
        if handler["handler"] == "subroute":
            for inner in handler["routes"]:
                found.extend(handlers(inner))
        else:
            found.append(handler)
    return found


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed here")
def test_caddy_serves_only_the_webhook_path_to_the_internet() -> None:
    env = env_example()
    webhook = urlsplit(env["TRIOBOT_WEBHOOK_URL"])
    hosts, routes = caddy_routes()
    assert hosts == [webhook.hostname]
    proxied = [r for r in routes if any(h["handler"] == "reverse_proxy" for h in handlers(r))]
    assert [r["match"] for r in proxied] == [[{"path": [webhook.path]}]]
    (proxy,) = [h for h in handlers(proxied[0]) if h["handler"] == "reverse_proxy"]
    assert proxy["upstreams"] == [{"dial": env["TRIOBOT_HTTP_LISTEN"]}]
    # Everything else (/metrics, /readyz, /healthz) is answered 404 by Caddy itself.
    rest = [r for r in routes if r not in proxied]
    assert [[h["handler"] for h in handlers(r)] for r in rest] == [["static_response"]]
    assert handlers(rest[0])[0]["status_code"] == 404 and "match" not in rest[0]
    valid = subprocess.run(
        ["caddy", "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(Path(os.environ.get("TMPDIR", "/tmp")))},
    )
    assert valid.returncode == 0 and "Valid configuration" in valid.stdout + valid.stderr


# --- the environment file --------------------------------------------------------------------


def test_the_example_environment_is_settings_triobot_accepts(tmp_path: Path) -> None:
    env = env_example()
    assert env["TRIOBOT_HTTP_LISTEN"].startswith("127.0.0.1:")  # only Caddy faces out
    assert urlsplit(env["TRIOBOT_WEBHOOK_URL"]).scheme == "https"
    assert env["TELEGRAM_BOT_TOKEN"] == "" and env["TRIOBOT_WEBHOOK_SECRET"] == ""  # to fill in
    example = tmp_path / "env"
    example.write_text((DEPLOY / "env.example").read_text())
    settings = Settings(_env_file=example)  # type: ignore[call-arg]
    assert settings.log_format == "json" and settings.programme_tz == env["TRIOBOT_TZ"]


def test_the_example_environment_reads_the_same_in_a_shell_and_names_the_units_database() -> None:
    """README's `triobot` shell function sources the file with `sh`; systemd reads it as
    VAR=value lines: both must see the same values."""
    env = env_example()
    script = 'set -a && . "$1" && ' + " && ".join(f'printf "%s\\n" "${k}"' for k in env)
    shell = subprocess.run(
        ["sh", "-c", script, "sh", str(DEPLOY / "env.example")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert shell.stdout.splitlines() == list(env.values())
    assert f"TRIOBOT_DB={env['TRIOBOT_DB']}" in values("triobot.service", "Environment")


def test_readme_walks_through_the_same_paths() -> None:
    section = README.split("## Deploying", 1)[1].split("\n## ", 1)[0]
    for needed in (
        "/opt/triobot/venv",
        "/opt/triobot/src",
        "/etc/triobot/env",
        "/var/lib/triobot",
        *UNITS,
        "deploy/Caddyfile",
        "systemctl enable --now triobot",
        "/readyz",
        "triobot-backup.sh",
    ):
        assert needed in section, needed


# --- the backup script -----------------------------------------------------------------------


def run_backup(
    tmp_path: Path, db_path: Path, backups: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    # `triobot` as the unit starts it, from this checkout (the venv's entry point may be
    # another checkout's).
    triobot = tmp_path / "triobot"
    triobot.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bot.cli.main "$@"\n')
    triobot.chmod(triobot.stat().st_mode | stat.S_IXUSR)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TRIOBOT_", "TELEGRAM_"))},
        "PYTHONPATH": str(ROOT),
        "TRIOBOT_DB": str(db_path),
        "TRIOBOT_BACKUP_DIR": str(backups),
        **env,
    }
    return subprocess.run(
        [str(DEPLOY / "triobot-backup.sh"), str(triobot)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=environment,
    )


def aged(path: Path, days: float) -> Path:
    path.write_bytes(b"an older backup")
    then = time.time() - days * 86400
    os.utime(path, (then, then))
    return path


def test_the_nightly_backup_makes_todays_file_and_keeps_n_days(
    tmp_path: Path, db_path: Path
) -> None:
    async def demo() -> None:
        db = await Database.open(db_path, clock=FakeClock())
        await seed_demo(db)
        await db.close()

    asyncio.run(demo())
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    old = aged(backups / "triobot-20250101.db", 30)
    killed = aged(backups / "triobot-20250102.db.x1y2.partial", 30)
    recent = aged(backups / "triobot-20261120.db", 3)
    unrelated = aged(backups / "notes.txt", 30)
    before = datetime.now(UTC)
    ran = run_backup(tmp_path, db_path, backups, TRIOBOT_BACKUP_KEEP_DAYS="14")
    assert ran.returncode == 0, ran.stderr
    days = {(before + timedelta(seconds=s)).strftime("%Y%m%d") for s in (0, 120)}
    made = [p for p in backups.glob("triobot-*.db") if p.name[8:16] in days]
    assert len(made) == 1 and ran.stdout.startswith(f"{made[0]}: ")
    assert "integrity ok" in ran.stdout
    assert stat.S_IMODE(made[0].stat().st_mode) == 0o600
    assert not old.exists() and not killed.exists()  # past 14 days
    assert recent.exists() and unrelated.exists()  # within them; not a backup


def test_a_failed_backup_deletes_no_older_one(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    old = aged(backups / "triobot-20250101.db", 30)
    ran = run_backup(tmp_path, tmp_path / "missing" / "triobot.db", backups)
    assert ran.returncode != 0 and ran.stderr.strip()
    assert old.exists()  # the only copy left is not deleted by a night that failed


def test_a_bad_retention_stops_with_one_line(tmp_path: Path, db_path: Path) -> None:
    ran = run_backup(tmp_path, db_path, tmp_path, TRIOBOT_BACKUP_KEEP_DAYS="two weeks")
    assert ran.returncode == 2
    assert ran.stderr.count("\n") == 1 and "TRIOBOT_BACKUP_KEEP_DAYS" in ran.stderr
    assert list(tmp_path.glob("triobot-*.db")) == []


# --- what `pip install /opt/triobot/src` puts on the server ---------------------------------


def test_the_installed_package_holds_every_file_the_bot_reads(tmp_path: Path) -> None:
    """README's install is a plain (not editable) `pip install`: only what pyproject.toml's
    package data names reaches the server. Built here by setuptools, as pip would."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bot", "storage", "prompts"):
        shutil.copytree(ROOT / package, source / package, ignore=skip)
    built = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "build",
         "--build-lib", str(built)],
        cwd=source, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    wanted = {
        str(path.relative_to(source))
        for package in ("bot", "storage", "prompts")
        for path in (source / package).rglob("*")
        if path.is_file() and "egg-info" not in str(path)
    }
    got = {str(path.relative_to(built)) for path in built.rglob("*") if path.is_file()}
    assert wanted - got == set()
    assert "prompts/reflections.toml" in got and "storage/migrations/0001_initial.sql" in got
