"""job ownership by engine, for several servers on one database

A starting server re-queued every running job, including those another live server was running,
which then ran twice. Each engine now registers itself and its heartbeat, and stamps the jobs it
claims; only the running jobs of engines that are gone are re-queued.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine_id", sa.String(32), nullable=True))
    op.create_table(
        "engines",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid_space", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("pid_started", sa.String(32), nullable=False),
        sa.Column("executors", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("beats", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("engines")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("engine_id")
