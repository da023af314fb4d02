"""Files that hold people's data are readable by their owner only, from the first byte.

The database (and SQLite's -wal/-shm beside it, which copy its mode), exports, digests and
invite lists are created 0600 whatever the umask, and a file that already existed with a
looser mode is tightened before anything is written to it. New folders for them are 0700.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, TextIO

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def _fd(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    # O_CREAT's mode applies only to a new file; an old one keeps its mode unless changed.
    os.fchmod(fd, FILE_MODE)
    return fd


def open_text(path: Path) -> TextIO:
    """A private file, truncated, for writing text (UTF-8, newlines as given: CSV)."""
    return os.fdopen(_fd(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8", newline="")


def open_binary(path: Path) -> BinaryIO:
    return os.fdopen(_fd(path, os.O_WRONLY | os.O_TRUNC), "wb")


def write_bytes(path: Path, content: bytes) -> None:
    with open_binary(path) as out:
        out.write(content)


def write_text(path: Path, content: str) -> None:
    with open_text(path) as out:
        out.write(content)


def touch(path: Path) -> None:
    """Create the file owner-only (or tighten it), leaving any content as it is."""
    os.close(_fd(path, os.O_RDWR))


def make_folder(path: Path) -> None:
    """The folder (and missing parents) owner-only when new; an existing one is left as it
    is (it may be the coordinator's own, shared on purpose); the files in it are private."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)


def tighten(path: Path) -> None:
    """An existing file back to owner-only, if it is more open than that."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(FILE_MODE)
