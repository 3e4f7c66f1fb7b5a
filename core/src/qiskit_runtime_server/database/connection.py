"""Creating the SQLAlchemy engine: SQLite (WAL) in the data directory, or PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SQLITE_FILENAME = "qiskit-runtime-server.sqlite3"


def database_url(data_dir: Path, url: str | None) -> str:
    """``url`` if given (PostgreSQL), else the SQLite file in ``data_dir``."""
    if url:
        return url
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / SQLITE_FILENAME}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait for the writer. NORMAL: a commit survives a crash of the process
    # (the WAL is on disk), which is what "nothing accepted is lost" needs short of power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_database(url: str) -> Engine:
    """The SQLAlchemy engine for ``url``, pooled for the API's threads."""
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):  # use psycopg 3, not the psycopg2 default
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        # As many connections as the API has threads (40; on PostgreSQL the event loop reads
        # nothing itself), so that no request waits for one; PostgreSQL allows 100 by default.
        return sa.create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True)
    if url.startswith("sqlite"):
        # More connections than the API has threads (40) plus its event loop, which reads job
        # status itself on SQLite: no request, and never the loop, waits for a connection.
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=10,
            max_overflow=40,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    return sa.make_url(url).render_as_string(hide_password=True)
