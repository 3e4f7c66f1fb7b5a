"""The tables. Changing them needs a migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as naive UTC in every database, returned timezone-aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("instance", sa.String(512), nullable=False),
    sa.Column("program_id", sa.String(64), nullable=False),
    sa.Column("backend", sa.String(256), nullable=False),
    sa.Column("executor", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("reason_code", sa.Integer),
    sa.Column("session_id", sa.String(32)),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("private", sa.Boolean, nullable=False),
    sa.Column("runtime", sa.String(256)),
    sa.Column("log_level", sa.String(16)),
    sa.Column("max_execution_time", sa.Integer),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("running_at", UTCDateTime()),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("usage_seconds", sa.Float, nullable=False),
    sa.Column("num_circuits", sa.Integer, nullable=False),
    sa.Column("num_qubits", sa.JSON, nullable=False),
    sa.Column("circuit_depths", sa.JSON, nullable=False),
    sa.Column("executions", sa.BigInteger, nullable=False),
    sa.Column("qiskit_version", sa.String(64), nullable=False),
    sa.Column("caller", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    # The scheduler running the job (see ``schedulers``): set when a worker claims it.
    sa.Column("scheduler_id", sa.String(32)),
    # zlib-compressed: the params JSON as sent, and the RuntimeEncoder result (or failure text).
    # A private job's params are emptied (b"") when it ends, its result set NULL once read.
    sa.Column("params", sa.LargeBinary, nullable=False),
    sa.Column("result", sa.LargeBinary),
    sa.Index("ix_jobs_instance_created", "instance", "created"),
    sa.Index("ix_jobs_instance_status", "instance", "status"),
    sa.Index("ix_jobs_status_executor_created", "status", "executor", "created"),
    sa.Index("ix_jobs_session_id", "session_id"),
    sa.Index("ix_jobs_created", "created"),
)

job_tags = sa.Table(
    "job_tags",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("tag", sa.String(256), primary_key=True),
    sa.Index("ix_job_tags_tag", "tag"),
)

job_logs = sa.Table(
    "job_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(32), nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.Index("ix_job_logs_job_id", "job_id"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("instance", sa.String(512), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("backend", sa.String(256), nullable=False),
    sa.Column("max_ttl", sa.Integer, nullable=False),
    sa.Column("interactive_ttl", sa.Integer, nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_reason", sa.Text),
    sa.Column("accepting_jobs", sa.Boolean, nullable=False),
    sa.Column("activated_at", UTCDateTime()),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("last_job_started", UTCDateTime()),
    sa.Column("last_job_completed", UTCDateTime()),
    sa.Column("elapsed_time", sa.Float, nullable=False),
    sa.Column("timestamps", sa.JSON, nullable=False),
    sa.Index("ix_sessions_state", "state"),
)

# The schedulers sharing this database (one per server), so that a server re-runs only the
# running jobs of schedulers that are gone, and the API knows which executors some scheduler can
# run (a Ray cluster's nodes included). ``beats`` counts heartbeats: others judge it by their
# own clocks, never by comparing clocks across hosts.
schedulers = sa.Table(
    "schedulers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid_space", sa.String(128), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_started", sa.String(32), nullable=False),
    sa.Column("executors", sa.JSON, nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("beats", sa.BigInteger, nullable=False),
    # How it runs jobs: "local" (worker processes) or "ray" (actors).
    sa.Column("dispatcher", sa.String(256), nullable=False, server_default="local"),
    # The widest circuit each of its executors simulates where it runs: {"custatevec": 33}.
    sa.Column("max_qubits", sa.JSON, nullable=False, server_default=sa.text("'{}'")),
)
