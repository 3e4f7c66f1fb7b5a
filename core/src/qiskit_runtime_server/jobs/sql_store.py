"""The job store on SQLAlchemy Core: SQLite (embedded default) or PostgreSQL.

The statements on a job's path (submit, claim, finish, poll) are built once, with bound
parameters: SQLAlchemy then finds them compiled in its cache, where a statement built per call
costs more to construct and key than the database takes to run it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from ..database.schema import job_logs, job_tags, jobs, schedulers, sessions
from .blobs import compress, decompress, decompress_at_most
from .models import JobRecord, JobStatus, SchedulerRecord, SessionRecord
from .store import (
    ANY_SCHEDULER,
    Activity,
    AnyScheduler,
    Claim,
    JobOutcome,
    JobQuery,
    JobState,
    JobStore,
)

_PENDING = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_FINAL = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
#: The job columns a JobRecord holds (everything but the blobs).
_RECORD_COLUMNS = [c for c in jobs.c if c.name not in ("params", "result")]
_JOB_FIELDS = {c.name for c in _RECORD_COLUMNS}
_SESSION_FIELDS = {c.name for c in sessions.c}


def _status_in(statuses: Sequence[str]) -> sa.ColumnElement[bool]:
    """``status IN (...)`` for a fixed set, as equalities: ``in_`` would expand its list again
    on every execution of a prebuilt statement."""
    if not statuses:
        raise ValueError("a status condition needs at least one status")
    return sa.or_(*(jobs.c.status == status for status in statuses))


_INSERT_JOB = jobs.insert()
_INSERT_TAGS = job_tags.insert()
_INSERT_LOGS = job_logs.insert()
_GET_JOB = sa.select(*_RECORD_COLUMNS).where(jobs.c.id == sa.bindparam("b_id"))
_JOB_PARAMS = sa.select(jobs.c.params).where(jobs.c.id == sa.bindparam("b_id"))
#: The params of a private job once it is final: deleted. The column is NOT NULL, and no stored
#: params are ever empty (zlib output never is), so an empty blob says "deleted" without a
#: migration that would copy the whole table on SQLite.
DELETED_PARAMS = b""
# The status and result of an instance's job, the blob only when it is at most b_max bytes
# (its length is known without reading it); then whether there is no blob at all, and whether
# the job is private.
_OUTCOME = sa.select(
    jobs.c.status,
    jobs.c.reason,
    sa.case((sa.func.length(jobs.c.result) <= sa.bindparam("b_max"), jobs.c.result)),
    jobs.c.result.is_(None),
    jobs.c.private,
).where(jobs.c.id == sa.bindparam("b_id"), jobs.c.instance == sa.bindparam("b_instance"))
# A private job's result is read once: the one reader whose update finds it deletes it.
_DELETE_READ_RESULT = (
    jobs.update()
    .where(
        jobs.c.id == sa.bindparam("b_id"),
        jobs.c.private.is_(True),
        jobs.c.status == JobStatus.COMPLETED.value,
        jobs.c.result.is_not(None),
    )
    .values(result=None)
)
#: ``job_outcome``'s limit when there is none (a 64-bit integer, as the databases take).
_NO_LIMIT = 2**62
_PENDING_COUNT = (
    sa.select(sa.func.count())
    .select_from(jobs)
    .where(jobs.c.instance == sa.bindparam("b_instance"), _status_in(_PENDING))
)
#: The job a free worker runs next: the oldest job of an active dedicated session, else the
#: oldest job. Two steps, each reading an index in order: one query ordering by "in an active
#: dedicated session" would sort every queued job on each claim.
_ACTIVE_DEDICATED = sa.select(sessions.c.id).where(
    sessions.c.state == "active", sessions.c.mode == "dedicated"
)
_NEXT_IN_SESSIONS = (
    sa.select(*_RECORD_COLUMNS)
    .where(
        jobs.c.session_id.in_(sa.bindparam("b_sessions", expanding=True)),
        jobs.c.status == JobStatus.QUEUED.value,
        jobs.c.executor == sa.bindparam("b_executor"),
    )
    .order_by(jobs.c.created, jobs.c.id)
    .limit(1)
)
_NEXT_OLDEST = (
    sa.select(*_RECORD_COLUMNS)
    .where(jobs.c.status == JobStatus.QUEUED.value, jobs.c.executor == sa.bindparam("b_executor"))
    .order_by(jobs.c.created, jobs.c.id)
    .limit(1)
)
# Several servers may share a PostgreSQL store: they skip rows another one locked. A claim of
# the oldest job reads two rows, to learn whether a job is left for the next free worker (a
# hint: a row locked elsewhere is not seen, and the scheduler looks again every second anyway).
_CLAIM_IN_SESSIONS = _NEXT_IN_SESSIONS.with_for_update(of=jobs, skip_locked=True)
_CLAIM_OLDEST = _NEXT_OLDEST.limit(2).with_for_update(of=jobs, skip_locked=True)
_CLAIM_UPDATE = (
    jobs.update()
    .where(jobs.c.id == sa.bindparam("b_id"), jobs.c.status == JobStatus.QUEUED.value)
    .values(
        status=JobStatus.RUNNING.value,
        running_at=sa.bindparam("b_running_at"),
        attempts=jobs.c.attempts + 1,
        scheduler_id=sa.bindparam("b_scheduler_id"),
    )
    .returning(*_RECORD_COLUMNS, jobs.c.params)
)


@functools.lru_cache(maxsize=128)
def _transition_statement(
    columns: tuple[str, ...], allowed_from: tuple[str, ...], owner: str, final: bool
) -> sa.Update:
    """UPDATE ... SET ``columns`` WHERE the status is one of ``allowed_from`` and the scheduler
    is ``owner`` ("any", "none" or "bound": ``:b_owner``) RETURNING the record; the scheduler uses
    a handful of such shapes, each built once. A ``final`` one also deletes the params of a
    private job (the row's own flag decides, so another job's params are never touched)."""
    condition = [jobs.c.id == sa.bindparam("b_id"), _status_in(allowed_from)]
    if owner == "none":
        condition.append(jobs.c.scheduler_id.is_(None))
    elif owner == "bound":
        condition.append(jobs.c.scheduler_id == sa.bindparam("b_owner"))
    values: dict[str, Any] = {name: sa.bindparam(f"b_{name}") for name in columns}
    if final:
        deleted = sa.literal(DELETED_PARAMS, sa.LargeBinary)
        values["params"] = sa.case((jobs.c.private.is_(True), deleted), else_=jobs.c.params)
    return jobs.update().where(*condition).values(values).returning(*_RECORD_COLUMNS)


def _job(row: Row[Any]) -> JobRecord:
    values = dict(row._mapping)
    values["status"] = JobStatus(values["status"])
    return JobRecord(**values)


def _job_values(job: JobRecord) -> dict[str, Any]:
    values = {name: getattr(job, name) for name in _JOB_FIELDS}
    values["status"] = job.status.value
    return values


def _session(row: Row[Any]) -> SessionRecord:
    values = dict(row._mapping)
    values["timestamps"] = [
        (status, datetime.fromisoformat(moment)) for status, moment in values["timestamps"]
    ]
    return SessionRecord(**values)


def _session_values(changes: dict[str, Any]) -> dict[str, Any]:
    values = dict(changes)
    if "timestamps" in values:
        values["timestamps"] = [
            [status, moment.isoformat()] for status, moment in values["timestamps"]
        ]
    return values


class SqlJobStore(JobStore):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.local_reads = engine.dialect.name == "sqlite"

    # -- jobs ----------------------------------------------------------------------------------

    def add_job(
        self, job: JobRecord, params: str, logs: Sequence[str] = (), result: bytes | None = None
    ) -> None:
        blob = DELETED_PARAMS if job.private and job.status.final else compress(params)
        values = {**_job_values(job), "params": blob}
        if result is not None:
            values["result"] = result
        with self.engine.begin() as conn:
            conn.execute(_INSERT_JOB, values)
            if job.tags:
                conn.execute(_INSERT_TAGS, [{"job_id": job.id, "tag": t} for t in job.tags])
            self._insert_logs(conn, job.id, logs)
        self._tell("job_submitted", job)
        if job.status.final:
            self._tell("job_finished", job)

    def get_job(self, job_id: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(_GET_JOB, {"b_id": job_id}).first()
        return _job(row) if row else None

    def job_params(self, job_id: str) -> str | None:
        with self.engine.connect() as conn:
            blob = conn.execute(_JOB_PARAMS, {"b_id": job_id}).scalar()
        return decompress(blob) if blob else None  # None or DELETED_PARAMS

    def job_outcome(
        self, job_id: str, instance: str, max_result_bytes: int | None = None
    ) -> JobOutcome | None:
        limit = _NO_LIMIT if max_result_bytes is None else max_result_bytes
        parameters = {"b_id": job_id, "b_instance": instance, "b_max": limit}
        with self.engine.connect() as conn:
            row = conn.execute(_OUTCOME, parameters).first()
        if row is None:
            return None
        status, reason, blob, absent, private = row
        body = decompress_at_most(blob, limit) if blob is not None else None
        return JobOutcome(
            status=JobStatus(status),
            reason=reason,
            body=body,
            complete=body is not None or bool(absent),
            private=bool(private),
        )

    def delete_read_result(self, job_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(_DELETE_READ_RESULT, {"b_id": job_id}).rowcount == 1

    def job_logs(self, job_id: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(job_logs.c.line)
                .where(job_logs.c.job_id == job_id)
                .order_by(job_logs.c.id)
            )
            return [line for (line,) in rows]

    def list_jobs(self, query: JobQuery) -> tuple[list[JobRecord], int]:
        conditions: list[sa.ColumnElement[bool]] = [jobs.c.instance == query.instance]
        if query.backend is not None:
            conditions.append(jobs.c.backend == query.backend)
        if query.hidden_backends:
            conditions.append(jobs.c.backend.not_in(query.hidden_backends))
        if query.pending is not None:
            conditions.append(jobs.c.status.in_(_PENDING if query.pending else _FINAL))
        if query.status is not None:
            conditions.append(jobs.c.status == query.status.value)
        if query.program is not None:
            conditions.append(jobs.c.program_id == query.program)
        if query.session_id is not None:
            conditions.append(jobs.c.session_id == query.session_id)
        if query.created_after is not None:
            conditions.append(jobs.c.created >= query.created_after)
        if query.created_before is not None:
            conditions.append(jobs.c.created <= query.created_before)
        for tag in set(query.tags):
            conditions.append(
                sa.exists().where(job_tags.c.job_id == jobs.c.id, job_tags.c.tag == tag)
            )
        order = jobs.c.created.asc() if query.ascending else jobs.c.created.desc()
        select = (
            sa.select(*_RECORD_COLUMNS)
            .where(*conditions)
            .order_by(order, jobs.c.id)
            .limit(query.limit)
            .offset(query.offset)
        )
        count = sa.select(sa.func.count()).select_from(jobs).where(*conditions)
        with self.engine.connect() as conn:
            page = [_job(row) for row in conn.execute(select)]
            total = conn.execute(count).scalar_one()
        return page, int(total)

    def pending_count(self, instance: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(_PENDING_COUNT, {"b_instance": instance}).scalar_one())

    def transition(
        self,
        job_id: str,
        allowed_from: Collection[JobStatus],
        *,
        result: bytes | None = None,
        logs: Sequence[str] = (),
        owner: str | AnyScheduler | None = ANY_SCHEDULER,
        **changes: Any,
    ) -> JobRecord | None:
        values = self._job_changes(changes)
        if result is not None:
            values["result"] = result
        columns = tuple(sorted(values))
        statuses = tuple(sorted(s.value for s in allowed_from))
        shape = "any" if owner is ANY_SCHEDULER else "none" if owner is None else "bound"
        final = "status" in changes and JobStatus(changes["status"]).final
        statement = _transition_statement(columns, statuses, shape, final)
        parameters = {f"b_{name}": values[name] for name in columns}
        if isinstance(owner, str):
            parameters["b_owner"] = owner
        with self.engine.begin() as conn:
            row = conn.execute(statement, {"b_id": job_id, **parameters}).first()
            if row is None:
                return None
            self._insert_logs(conn, job_id, logs)
        record = _job(row)
        if final:
            self._tell("job_finished", record)
        return record

    @staticmethod
    def _job_changes(changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - _JOB_FIELDS
        if unknown:
            raise AttributeError(f"JobRecord has no fields {sorted(unknown)}")
        values = dict(changes)
        if isinstance(values.get("status"), JobStatus):
            values["status"] = values["status"].value
        return values

    @staticmethod
    def _insert_logs(conn: Connection, job_id: str, lines: Sequence[str]) -> None:
        if lines:
            conn.execute(_INSERT_LOGS, [{"job_id": job_id, "line": line} for line in lines])

    def append_logs(self, job_id: str, lines: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            self._insert_logs(conn, job_id, lines)

    def set_tags(self, job_id: str, tags: Sequence[str]) -> None:
        unique = sorted(set(tags))
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(tags=unique))
            conn.execute(job_tags.delete().where(job_tags.c.job_id == job_id))
            if unique:
                conn.execute(job_tags.insert(), [{"job_id": job_id, "tag": t} for t in unique])

    def delete_job(self, job_id: str) -> bool:
        with self.engine.begin() as conn:
            return self._delete(conn, [job_id]) == 1

    @staticmethod
    def _delete(conn: Connection, ids: Sequence[str]) -> int:
        conn.execute(job_tags.delete().where(job_tags.c.job_id.in_(ids)))
        conn.execute(job_logs.delete().where(job_logs.c.job_id.in_(ids)))
        return conn.execute(jobs.delete().where(jobs.c.id.in_(ids))).rowcount

    def delete_finished_before(self, cutoff: datetime) -> int:
        deleted = 0
        while True:
            with self.engine.begin() as conn:
                ids = list(
                    conn.execute(
                        sa.select(jobs.c.id)
                        .where(jobs.c.status.in_(_FINAL), jobs.c.finished_at < cutoff)
                        .limit(500)
                    ).scalars()
                )
                if not ids:
                    return deleted
                deleted += self._delete(conn, ids)

    # -- scheduling ----------------------------------------------------------------------------

    @staticmethod
    def _next(
        conn: Connection, executor: str, in_session: sa.Select[Any], oldest: sa.Select[Any]
    ) -> tuple[Row[Any] | None, bool]:
        """The next job's row, and whether it may not be the last one queued (a job of an
        active dedicated session is never taken for the last: others may wait outside)."""
        active = list(conn.execute(_ACTIVE_DEDICATED).scalars())
        if active:
            params = {"b_executor": executor, "b_sessions": active}
            row = conn.execute(in_session, params).first()
            if row is not None:
                return row, True
        rows = conn.execute(oldest, {"b_executor": executor}).all()
        return (rows[0] if rows else None), len(rows) > 1

    def next_queued(self, executor: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            row, _ = self._next(conn, executor, _NEXT_IN_SESSIONS, _NEXT_OLDEST)
        return _job(row) if row else None

    def claim_next(
        self, executor: str, *, running_at: datetime, log: str, scheduler_id: str
    ) -> Claim | None:
        with self.engine.begin() as conn:
            for _ in range(10):  # a job cancelled between the two statements: take the next
                row, more = self._next(conn, executor, _CLAIM_IN_SESSIONS, _CLAIM_OLDEST)
                if row is None:
                    return None
                claimed = conn.execute(
                    _CLAIM_UPDATE,
                    {"b_id": row.id, "b_running_at": running_at, "b_scheduler_id": scheduler_id},
                ).first()
                if claimed is not None:
                    self._insert_logs(conn, row.id, [log])
                    values = dict(claimed._mapping)
                    params = decompress(values.pop("params"))
                    values["status"] = JobStatus(values["status"])
                    claim = Claim(JobRecord(**values), params, more)
                    break
            else:
                return None
        self._tell("job_started", claim.job)
        return claim

    def jobs_in_status(self, status: JobStatus) -> list[JobRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*_RECORD_COLUMNS)
                .where(jobs.c.status == status.value)
                .order_by(jobs.c.created)
            )
            return [_job(row) for row in rows]

    def job_states(self, job_ids: Collection[str]) -> dict[str, JobState]:
        if not job_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.status, jobs.c.scheduler_id, jobs.c.attempts).where(
                    jobs.c.id.in_(list(job_ids))
                )
            )
            return {
                row.id: JobState(JobStatus(row.status), row.scheduler_id, row.attempts)
                for row in rows
            }

    def queue_lengths(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs.c.backend, sa.func.count())
                .where(jobs.c.status.in_(_PENDING))
                .group_by(jobs.c.backend)
            )
            return {backend: int(count) for backend, count in rows}

    def queue_position(self, job: JobRecord) -> int:
        with self.engine.connect() as conn:
            ahead = conn.execute(
                sa.select(sa.func.count())
                .select_from(jobs)
                .where(
                    jobs.c.status == JobStatus.QUEUED.value,
                    jobs.c.executor == job.executor,
                    jobs.c.created < job.created,
                )
            ).scalar_one()
        return int(ahead)

    def session_jobs(self, session_id: str) -> list[JobRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*_RECORD_COLUMNS)
                .where(jobs.c.session_id == session_id)
                .order_by(jobs.c.created)
            )
            return [_job(row) for row in rows]

    def usage_seconds(self, instance: str, since: datetime | None = None) -> float:
        conditions: list[sa.ColumnElement[bool]] = [jobs.c.instance == instance]
        if since is not None:
            conditions.append(jobs.c.finished_at >= since)
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(jobs.c.usage_seconds), 0.0)).where(
                    *conditions
                )
            ).scalar_one()
        return float(total)

    # -- sessions ------------------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None:
        values = {name: getattr(session, name) for name in _SESSION_FIELDS}
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(**_session_values(values)))

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
        return _session(row) if row else None

    def update_session(self, session_id: str, **changes: Any) -> SessionRecord | None:
        unknown = set(changes) - _SESSION_FIELDS
        if unknown:
            raise AttributeError(f"SessionRecord has no fields {sorted(unknown)}")
        with self.engine.begin() as conn:
            conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id)
                .values(**_session_values(changes))
            )
            row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
        return _session(row) if row else None

    def activity(self, instances: Collection[str] | None = None) -> Activity:
        job_filter: list[sa.ColumnElement[bool]] = [jobs.c.status.in_(_PENDING)]
        session_filter: list[sa.ColumnElement[bool]] = []
        if instances is not None:
            job_filter.append(jobs.c.instance.in_(list(instances)))
            session_filter.append(sessions.c.instance.in_(list(instances)))
        with self.engine.connect() as conn:
            job_rows = conn.execute(
                sa.select(jobs.c.executor, jobs.c.status, sa.func.count())
                .where(*job_filter)
                .group_by(jobs.c.executor, jobs.c.status)
            )
            counts = {(executor, status): int(n) for executor, status, n in job_rows}
            session_rows = conn.execute(
                sa.select(sessions.c.state, sa.func.count())
                .where(*session_filter)
                .group_by(sessions.c.state)
            )
            states = {state: int(n) for state, n in session_rows}
        return Activity(counts, states)

    def list_sessions(
        self, instance: str, limit: int = 50, offset: int = 0
    ) -> tuple[list[SessionRecord], int]:
        mine = sessions.c.instance == instance
        page = (
            sa.select(sessions)
            .where(mine)
            .order_by(sessions.c.created.desc(), sessions.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            rows = [_session(row) for row in conn.execute(page)]
            total = conn.execute(sa.select(sa.func.count()).where(mine)).scalar_one()
        return rows, int(total)

    def open_sessions(self) -> list[SessionRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sessions).where(sessions.c.state != "closed"))
            return [_session(row) for row in rows]

    # -- health --------------------------------------------------------------------------------

    def register_scheduler(self, scheduler: SchedulerRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(schedulers.insert().values(**vars(scheduler)))

    def beat(self, scheduler_id: str) -> bool:
        with self.engine.begin() as conn:
            updated = conn.execute(
                schedulers.update()
                .where(schedulers.c.id == scheduler_id)
                .values(beats=schedulers.c.beats + 1)
            )
            return bool(updated.rowcount)

    def set_scheduler_executors(
        self, scheduler_id: str, executors: list[str], max_qubits: dict[str, int]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                schedulers.update()
                .where(schedulers.c.id == scheduler_id)
                .values(executors=sorted(executors), max_qubits=max_qubits)
            )

    def schedulers(self) -> list[SchedulerRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(schedulers).order_by(schedulers.c.started_at))
            return [SchedulerRecord(**row._mapping) for row in rows]

    def forget_scheduler(self, scheduler_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(schedulers.delete().where(schedulers.c.id == scheduler_id))

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
