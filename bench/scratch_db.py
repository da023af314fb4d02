"""A PostgreSQL database of a bench run's own: made on the server named, dropped after.

`--db postgresql://user@host:port/postgres` names a server (and a database to connect to
while making ours); the run's database is `triobot_<bench>_<pid>` there, migrated by the
first `open_store` (the CLI's seeding, or the bench itself), and dropped when the run ends,
even a failed one (kept with `keep`, e.g. for a --workdir run to look into afterwards).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from storage.postgres_sql import safe_url
from storage.store import is_postgres


def check_server(url: str) -> str | None:
    """Why `url` cannot be a run's --db (None when it can)."""
    if not is_postgres(url):
        return f"--db takes a postgresql:// URL, not {safe_url(url)!r}"
    return None


@contextmanager
def scratch_database(server: str, bench: str, keep: bool = False) -> Iterator[str]:
    """The URL of a new, empty database on `server` for this run."""
    name = f"triobot_{bench}_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    try:
        yield url
    finally:
        if keep:
            print(f"NOTE: the run's database is kept: {safe_url(url)}", flush=True)
        else:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
