"""the ``engines`` table becomes ``schedulers``, with the dispatcher each one runs jobs through

"Engine" named the job scheduler, the SQLAlchemy engine, both simulators and this table; the
word is left to SQLAlchemy. A scheduler now also says how it runs jobs (``local`` worker
processes or a ``ray`` cluster), and its executors change while it runs (Ray nodes join and
leave), so the API reads them as the union of what every scheduler can run, with the widest
circuit each executor simulates there (a GPU node's custatevec, not the API host's).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.rename_table("engines", "schedulers")
    with op.batch_alter_table("schedulers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispatcher", sa.String(256), nullable=False, server_default="local")
        )
        batch_op.add_column(
            sa.Column("max_qubits", sa.JSON, nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("engine_id", new_column_name="scheduler_id")


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("scheduler_id", new_column_name="engine_id")
    with op.batch_alter_table("schedulers", schema=None) as batch_op:
        batch_op.drop_column("max_qubits")
        batch_op.drop_column("dispatcher")
    op.rename_table("schedulers", "engines")
