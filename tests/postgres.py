"""A throwaway PostgreSQL database per test, for the tests that run on both stores.

TRIOBOT_TEST_POSTGRES names a server the tests may create databases on (scripts/test starts
a throwaway one, scripts/postgres): `postgresql://postgres@127.0.0.1:PORT/postgres`. The
schema is migrated once per test session into a template database; each test gets a copy
of it (CREATE DATABASE … TEMPLATE, a file copy), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from storage.postgres import PostgresDatabase

ENV = "TRIOBOT_TEST_POSTGRES"
_numbers = itertools.count(1)
_template: str | None = None


def server_url() -> str | None:
    return os.environ.get(ENV) or None


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def _template_name(url: str) -> str:
    """The migrated template database of this test process, made the first time."""
    global _template
    if _template is None:
        name = f"triobot_tpl_{os.getpid()}"
        with _admin(url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')

        async def migrate() -> None:
            db = await PostgresDatabase.open(with_database(url, name))
            await db.close()

        asyncio.run(migrate())
        _template = name
    return _template


def fresh_database() -> str:
    """The URL of a new, migrated database for one test (skips when no server is set)."""
    url = server_url()
    if url is None:
        pytest.skip(f"no PostgreSQL server for the tests: set {ENV} (scripts/test does)")
    template = _template_name(url)
    name = f"triobot_t{os.getpid()}_{next(_numbers)}"
    with _admin(url) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return with_database(url, name)


def drop_database(test_url: str) -> None:
    url = server_url()
    assert url is not None
    name = urlsplit(test_url).path.lstrip("/")
    with _admin(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_template() -> None:
    url = server_url()
    if url is None or _template is None:
        return
    with _admin(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)')
