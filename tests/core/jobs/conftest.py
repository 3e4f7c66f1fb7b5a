"""A migrated store on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qiskit_runtime_server.database.connection import database_url, open_database
from qiskit_runtime_server.database.migrate import upgrade
from qiskit_runtime_server.jobs.sql_store import SqlJobStore
from qrs_test_plugins.databases import BACKENDS, database


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlJobStore]:
    with database(request.param, tmp_path) as url:
        engine = open_database(database_url(tmp_path, url))
        upgrade(engine)
        sql_store = SqlJobStore(engine)
        yield sql_store
        sql_store.close()
