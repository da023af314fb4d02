"""What `triobot roster import` and `triobot status` print: plain English for the
coordinator at a terminal, one thing per line (dates are UTC days)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.programme.roster_fields import ImportReport
from bot.programme.status import ProgrammeStatus
from storage.status import NotJoined


def print_report(report: ImportReport, path: Path, *, dry_run: bool) -> None:
    if report.kind is not None:
        print(f"{path}: {report.kind}, {report.rows} rows")
    for warning in report.warnings:
        print(f"  warning: {warning}")
    for error in report.errors:
        print(f"  error: {error}")
    if report.errors:
        print(f"Nothing was imported: {len(report.errors)} error(s). Fix them and run it again.")
        return
    removed = f", {report.removed} removed" if report.removed else ""
    counts = f"{report.created} new, {report.updated} changed, {report.unchanged} unchanged"
    if dry_run:
        if report.changes:
            print("It would make these changes:")
        for change in report.changes:
            print(f"  change: {change}")
        fine = "The file is fine" if not report.refused else "The other rows are fine"
        print(f"{fine} (dry run: nothing written). It would import {counts}{removed}.")
    else:
        print(f"Imported: {counts}{removed}.")
    if report.refused:
        refused = "would be refused" if dry_run else "refused (not imported)"
        print(
            f"{len(report.refused)} row(s) {refused}, because the person's school is not one of"
            " their trio's schools. Correct school_id or trio_id, or run again with"
            " --allow-mismatch to import them as they are."
        )
    for row in report.refused:
        print(f"  refused: {row}")


def print_status(found: ProgrammeStatus, sender: str, now: datetime) -> None:
    c = found.counts
    print(f"Schools: {c.schools} in {c.local_authorities} local authorities")
    print(f"Trios: {c.trios}")
    print(
        f"People: {c.joined} joined, {c.joining} joining, {c.invited} invited (not started),"
        f" {c.blocked} blocked the bot, {c.erased} erased"
    )
    print(f"Deliveries failed: {c.failed_deliveries}")
    print(sender)
    print(f"Not joined yet: {len(found.not_joined)}")
    for person in found.not_joined:
        who = f"{person.ref or '(no roster ref)'} {person.name or '(no name yet)'}"
        trios = ", ".join(person.trios) or "no trio"
        print(f"  {who} · {person.school or 'no school'} · {trios} · {invite_state(person, now)}")
    print(f"Trios not started (no member active yet): {len(found.not_started)}")
    for t in found.not_started:
        print(f"  {_trio(t.ref, t.name)}  members {t.members}, {t.joined} joined")
    weeks = f"{found.quiet_weeks:g}"
    print(f"Trios gone quiet (no activity for {weeks} weeks): {len(found.quiet)}")
    for t in found.quiet:
        last = f"{t.last_activity:%Y-%m-%d}" if t.last_activity else "?"
        print(
            f"  {_trio(t.ref, t.name)}  members {t.members}, {t.joined} joined, last active {last}"
        )


def _trio(ref: str, name: str | None) -> str:
    """A trio's reference, and its name when it has one of its own (not "T001 T001")."""
    named = f"{ref} {name}" if name and name != ref else ref
    return f"{named:<12}"


def invite_state(person: NotJoined, now: datetime) -> str:
    """Where someone not yet joined stands with their invite, in a few words."""
    if person.status == "joining":
        code = f" {person.code_used}" if person.code_used else ""
        used = f" on {person.code_used_at:%Y-%m-%d}" if person.code_used_at else ""
        return f"code{code} used{used}, joining not finished"
    if person.invited_at is None:
        return "no invite yet (triobot invite batch makes one)"
    invited = f"invited {person.invited_at:%Y-%m-%d}"
    if person.invite_revoked is not None:
        return f"{invited}, invite revoked"
    if person.invite_expires is not None and person.invite_expires <= now:
        return f"{invited}, invite expired {person.invite_expires:%Y-%m-%d}"
    return f"{invited}, code not used"
