"""Coordinator commands that act on the database directly."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta

from bot.config import Settings
from storage.db import Database, utcnow
from storage.invites import InviteRepo


def parse_lifetime(text: str, now: datetime) -> datetime | None:
    if text.strip().lower() in ("never", "none", "0"):
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([dhw])\s*", text.lower())
    if not match:
        raise ValueError(f"--expires: {text!r} is not like 14d, 48h or 2w")
    amount, unit = int(match[1]), match[2]
    hours = {"h": 1, "d": 24, "w": 168}[unit] * amount
    return now + timedelta(hours=hours)


async def create_invite(settings: Settings, args: argparse.Namespace) -> int:
    db = await Database.open(settings.db_path)
    try:
        try:
            expires = parse_lifetime(args.expires, utcnow())
        except ValueError as exc:
            print(exc)
            return 2
        if args.uses < 1:
            print("--uses must be at least 1")
            return 2
        async with db.transaction() as tx:
            school_id = trio_id = None
            if args.school:
                school_id = await tx.fetchval("SELECT id FROM school WHERE ref = ?", (args.school,))
                if school_id is None:
                    print(f"--school: no school with reference {args.school!r}")
                    return 2
            if args.trio:
                trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = ?", (args.trio,))
                if trio_id is None:
                    print(f"--trio: no trio with reference {args.trio!r}")
                    return 2
            code = await InviteRepo.create(
                tx,
                role=args.role,
                school_id=school_id,
                trio_id=trio_id,
                max_uses=args.uses,
                expires_at=expires,
            )
    finally:
        await db.close()
    username = settings.bot_username or "<your_bot>"
    print(code)
    print(f"https://t.me/{username}?start={code}")
    return 0
