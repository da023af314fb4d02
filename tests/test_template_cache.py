"""Compiled templates are kept on disk as well as in memory (bot/texts/bytecode.py
`_SharedBytecode`): a fresh process loads what an earlier one compiled, an edited template is
compiled again, and a damaged or unwritable cache costs a compilation, never a wrong or
missing text."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader
from jinja2.bccache import bc_magic

from bot.texts.bytecode import _SharedBytecode


def _environment(folder: Path, disk: FileSystemBytecodeCache | None) -> Environment:
    """What a fresh process has: an empty memory, and the disk as the last one left it."""
    return Environment(
        loader=FileSystemLoader(str(folder / "prompts")),
        bytecode_cache=_SharedBytecode(disk),
        autoescape=True,
    )


def _never_compile(env: Environment) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled, not loaded from the cache")

    env.compile = refuse  # type: ignore[method-assign,assignment]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "prompts" / "hello.j2").write_text("Hello {{ name }}!")
    return tmp_path


def test_a_fresh_process_loads_what_the_last_one_compiled(folder: Path) -> None:
    disk = FileSystemBytecodeCache(str(folder / "cache"))
    first = _environment(folder, disk)
    assert first.get_template("hello.j2").render(name="Ana") == "Hello Ana!"
    assert len(list((folder / "cache").iterdir())) == 1

    second = _environment(folder, FileSystemBytecodeCache(str(folder / "cache")))
    _never_compile(second)
    assert second.get_template("hello.j2").render(name="<Bo>") == "Hello &lt;Bo&gt;!"


def test_an_edited_template_is_compiled_again(folder: Path) -> None:
    disk = FileSystemBytecodeCache(str(folder / "cache"))
    _environment(folder, disk).get_template("hello.j2")
    (folder / "prompts" / "hello.j2").write_text("Olá {{ name }}!")

    again = _environment(folder, disk)
    assert again.get_template("hello.j2").render(name="Ana") == "Olá Ana!"


@pytest.mark.parametrize(
    "damage",
    [
        lambda whole: whole[:12],  # cut short, as by a full disk
        lambda whole: bc_magic + b"\x80garbage",  # Jinja's header, then no checksum
        lambda whole: bc_magic + pickle.dumps("x") + b"",  # a checksum, then nothing
    ],
)
def test_a_damaged_entry_is_compiled_again(folder: Path, damage: Callable[[bytes], bytes]) -> None:
    disk = FileSystemBytecodeCache(str(folder / "cache"))
    _environment(folder, disk).get_template("hello.j2")
    (entry,) = (folder / "cache").iterdir()
    entry.write_bytes(damage(entry.read_bytes()))

    again = _environment(folder, disk)
    assert again.get_template("hello.j2").render(name="Ana") == "Hello Ana!"


def test_an_unwritable_cache_still_renders(folder: Path) -> None:
    disk = FileSystemBytecodeCache(str(folder / "gone"))  # no such directory: writes fail
    env = _environment(folder, disk)
    assert env.get_template("hello.j2").render(name="Ana") == "Hello Ana!"
    assert not (folder / "gone").exists()
