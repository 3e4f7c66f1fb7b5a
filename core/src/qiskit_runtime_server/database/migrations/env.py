"""Alembic environment: the engine is handed over by ``migrate.upgrade``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from qiskit_runtime_server.database.schema import metadata

#: Servers sharing a PostgreSQL database that start together migrate one at a time (the others
#: then find the schema current); SQLite's write lock does the same for its file.
MIGRATION_LOCK = 0x51525301

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
