"""Databases for tests: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL is found at ``$QRS_TEST_POSTGRESQL_URL`` (default: the local server with trust
authentication, database ``test``). Where it is unreachable the PostgreSQL variants of tests
skip with the reason, unless ``QRS_TEST_REQUIRE_POSTGRESQL=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

DEFAULT_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def postgresql_url() -> str:
    return os.environ.get("QRS_TEST_POSTGRESQL_URL", DEFAULT_POSTGRESQL_URL)


@contextmanager
def fresh_postgresql_database() -> Iterator[str]:
    base = sa.make_url(postgresql_url())
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {base.render_as_string()}: {exc}"
        if os.environ.get("QRS_TEST_REQUIRE_POSTGRESQL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    name = f"qrs_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            # FORCE: a connection that raced the termination does not fail the teardown.
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str | None]:
    """The ``QRS_DATABASE_URL`` for ``kind``: None means SQLite in the data directory."""
    if kind == "sqlite":
        yield None
    else:
        with fresh_postgresql_database() as url:
            yield url


def scale_out_backend() -> str:
    """PostgreSQL, what a server on several machines shares, where it is reachable (always in
    CI); SQLite elsewhere, so that a machine without PostgreSQL still runs the test."""
    if os.environ.get("QRS_TEST_REQUIRE_POSTGRESQL") == "1":
        return "postgresql"
    admin = sa.create_engine(sa.make_url(postgresql_url()))
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return "postgresql"
    except Exception:
        return "sqlite"
    finally:
        admin.dispose()
