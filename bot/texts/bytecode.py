"""Compiled templates kept in memory and on disk, like __pycache__ (bot/texts)."""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from pathlib import Path

import jinja2
from jinja2 import BytecodeCache, FileSystemBytecodeCache
from jinja2.bccache import Bucket


class _SharedBytecode(BytecodeCache):
    """Compiled templates kept for the life of the process, shared by every `Texts` (Jinja
    checks each against its source's checksum, so an edit still shows), and on disk like
    __pycache__, in Jinja's private per-user cache directory: a fresh process loads them
    instead of compiling (0.08-0.15 s of its first digest). No usable directory: memory only."""

    def __init__(self, disk: BytecodeCache | None = None) -> None:
        self._store: dict[str, bytes] = {}
        self._disk = disk

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)
            return
        if self._disk is None:
            return
        try:
            self._disk.load_bytecode(bucket)  # nothing loaded when the checksum differs
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):  # compiled again
            bucket.reset()
        if bucket.code is not None:
            self._store[bucket.key] = bucket.bytecode_to_string()

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()
        if self._disk is not None:
            with contextlib.suppress(OSError):
                self._disk.dump_bytecode(bucket)


def _disk_bytecode() -> BytecodeCache | None:
    """Entries named for bot/texts' text and Jinja's version as well as the template: the
    compiled code depends on the Environment's options (set in bot/texts/__init__.py) and
    Jinja's compiler, which the source checksum Jinja keeps does not cover."""
    options = Path(__file__).with_name("__init__.py").read_bytes()
    made_by = hashlib.sha256(options + jinja2.__version__.encode())
    try:
        return FileSystemBytecodeCache(pattern=f"triobot-{made_by.hexdigest()[:16]}-%s.cache")
    except (OSError, RuntimeError):  # no private temporary directory to be had
        return None
