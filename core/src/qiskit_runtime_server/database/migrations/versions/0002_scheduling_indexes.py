"""indexes for the submit and claim paths

``POST /jobs`` counts an instance's queued and running jobs (its queue limit); with only the
(instance, created) index that count read every job the instance ever ran, so submitting got
slower as history grew.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_instance_status", ["instance", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_instance_status")
