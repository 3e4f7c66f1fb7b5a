"""The job store interface: the only way the server reads or changes jobs and sessions.

Status changes go through :meth:`JobStore.transition`, a compare-and-set, so that a job
cancelled while it starts, or finished while it is cancelled, ends in exactly one final state
whatever the interleaving. Blobs (params, results) and logs are read separately from the job
row, so that status polls stay cheap.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .models import JobRecord, JobStatus, SchedulerRecord, SessionRecord

logger = logging.getLogger(__name__)


class AnyScheduler(enum.Enum):
    """``transition(owner=ANY_SCHEDULER)``: whatever scheduler the job is on (None means none)."""

    ANY = "any"


ANY_SCHEDULER = AnyScheduler.ANY


@dataclass(frozen=True)
class JobState:
    """A job's status and claim, for a scheduler checking that a running job is still its own."""

    status: JobStatus
    scheduler_id: str | None
    attempts: int


@dataclass(frozen=True)
class JobQuery:
    """Filters and paging of ``GET /jobs``, as the client sends them."""

    instance: str
    limit: int = 200
    offset: int = 0
    backend: str | None = None
    pending: bool | None = None
    #: One status only (the dashboard's filter; IBM's API has ``pending``).
    status: JobStatus | None = None
    program: str | None = None
    tags: Sequence[str] = ()
    session_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    ascending: bool = False
    #: Jobs of these backends are left out (the mock backends, unless ``include_mocks``).
    hidden_backends: Sequence[str] = ()


@dataclass(frozen=True)
class Claim:
    """A job moved to ``Running`` for a worker."""

    job: JobRecord
    params: str
    #: Whether another job of the executor was queued at the time: the scheduler asks again only
    #: then (or when a job is submitted), instead of paying a query to learn the queue is empty.
    more_queued: bool


@dataclass(frozen=True)
class JobOutcome:
    """What ``GET /jobs/{id}/results`` needs, read in one go."""

    status: JobStatus
    reason: str | None
    #: The stored result (UTF-8 text), or None when there is none.
    body: bytes | None
    #: False when the stored result was larger than the reader's limit and was not read.
    complete: bool = True
    #: Whether the job is private: a completed private job's result may be read only once
    #: (see :meth:`JobStore.delete_read_result`).
    private: bool = False


class JobListener(Protocol):
    """Told of what this process's store did to jobs, after it is committed (the metrics count
    jobs here: every path that submits, starts or ends a job goes through the store)."""

    def job_submitted(self, job: JobRecord) -> None: ...

    def job_started(self, job: JobRecord) -> None: ...

    def job_finished(self, job: JobRecord) -> None: ...


@dataclass(frozen=True)
class Activity:
    """What the server holds now, over all instances (for the metrics' gauges)."""

    #: Queued and running jobs: ``{(executor, status): count}``.
    jobs: dict[tuple[str, str], int]
    #: Sessions and batches by state (``open``, ``active``, ``inactive``, ``closed``).
    sessions: dict[str, int]


class JobStore(ABC):
    """Where jobs, their params, results and logs, and sessions are kept."""

    #: See :meth:`listen`.
    listeners: tuple[JobListener, ...] = ()

    def listen(self, listener: JobListener) -> None:
        """Tell ``listener`` of each job this store object submits, starts or ends."""
        self.listeners = (*self.listeners, listener)

    def _tell(self, event: str, job: JobRecord) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, event)(job)
            except Exception:  # a listener never fails the job's path
                logger.exception("job listener %r failed on %s", listener, event)

    #: True when reading one job by key cannot wait on a network or a lock (SQLite in WAL mode:
    #: a local file whose readers never wait for its writer). The API then answers job polls on
    #: its event loop instead of paying a hop to a worker thread; over a network a slow or
    #: unreachable database would stall every request.
    local_reads: bool = False

    # -- jobs ----------------------------------------------------------------------------------

    @abstractmethod
    def add_job(
        self, job: JobRecord, params: str, logs: Sequence[str] = (), result: bytes | None = None
    ) -> None:
        """Store a new job with its params text (committed when this returns). A job stored
        already final (a dry run) may come with its ``result`` (zlib-compressed text); a
        private one is stored without its params, as :meth:`transition` leaves it."""

    @abstractmethod
    def get_job(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    def job_params(self, job_id: str) -> str | None:
        """The params text as submitted; None when the job does not exist or is a private job
        that reached a final status (IBM deletes a private job's inputs then)."""

    @abstractmethod
    def job_outcome(
        self, job_id: str, instance: str, max_result_bytes: int | None = None
    ) -> JobOutcome | None:
        """The status and stored result of the instance's job (the RuntimeEncoder result of a
        completed job, the failure text of a failed one), leaving out a result of more than
        ``max_result_bytes`` (compressed or not); None when the instance has no such job."""

    @abstractmethod
    def job_logs(self, job_id: str) -> list[str]: ...

    @abstractmethod
    def list_jobs(self, query: JobQuery) -> tuple[list[JobRecord], int]:
        """One page of matching jobs (newest first unless ascending) and the total count."""

    @abstractmethod
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
        """If the job's status is in ``allowed_from`` and its ``scheduler_id`` is ``owner``
        (unless ``ANY_SCHEDULER``): apply ``changes``, store ``result`` (zlib-compressed text) and
        append ``logs``, in one transaction. The new record, or None if the job does not exist
        or was in another status or on another scheduler.

        A change to a final status also deletes the params of a private job, in the same
        statement: no reader ever sees a private job final with its inputs still stored."""

    @abstractmethod
    def delete_read_result(self, job_id: str) -> bool:
        """Delete the result of a completed private job that has just been read (IBM hands out
        a private job's result once). True for the one caller that deleted it, which alone may
        hand out the result it read; False when the job is not a completed private job with a
        result (another reader took it first)."""

    @abstractmethod
    def append_logs(self, job_id: str, lines: Sequence[str]) -> None: ...

    @abstractmethod
    def set_tags(self, job_id: str, tags: Sequence[str]) -> None: ...

    @abstractmethod
    def delete_job(self, job_id: str) -> bool: ...

    @abstractmethod
    def delete_finished_before(self, cutoff: datetime) -> int:
        """Retention: delete jobs that finished before ``cutoff``; how many were deleted."""

    # -- scheduling ----------------------------------------------------------------------------

    @abstractmethod
    def next_queued(self, executor: str) -> JobRecord | None:
        """The job a free worker of ``executor`` should run next: jobs of active dedicated
        sessions first, then the oldest."""

    @abstractmethod
    def claim_next(
        self, executor: str, *, running_at: datetime, log: str, scheduler_id: str
    ) -> Claim | None:
        """Atomically move :meth:`next_queued` to ``Running`` for scheduler ``scheduler_id`` (one
        more attempt, ``log`` appended) and return the claim (the job, its params text, whether
        more are queued); None when nothing is queued."""

    @abstractmethod
    def jobs_in_status(self, status: JobStatus) -> list[JobRecord]: ...

    @abstractmethod
    def job_states(self, job_ids: Collection[str]) -> dict[str, JobState]:
        """Status and scheduler of each existing job of ``job_ids`` (a scheduler checks that the
        jobs it runs are still its own and not cancelled through another server)."""

    @abstractmethod
    def queue_lengths(self) -> dict[str, int]:
        """Queued and running jobs per backend, over all instances."""

    @abstractmethod
    def queue_position(self, job: JobRecord) -> int:
        """How many queued jobs of the same executor are ahead of ``job``."""

    @abstractmethod
    def session_jobs(self, session_id: str) -> list[JobRecord]: ...

    @abstractmethod
    def usage_seconds(self, instance: str, since: datetime | None = None) -> float:
        """Executor seconds used by the instance's jobs (those that finished at or after
        ``since``, when given: a job's usage is written when it finishes)."""

    @abstractmethod
    def pending_count(self, instance: str) -> int:
        """Jobs of the instance that are queued or running (its queue limit counts these)."""

    @abstractmethod
    def activity(self, instances: Collection[str] | None = None) -> Activity:
        """Queued and running jobs per executor, and sessions per state, of ``instances``
        (None: all of them)."""

    @abstractmethod
    def list_sessions(
        self, instance: str, limit: int = 50, offset: int = 0
    ) -> tuple[list[SessionRecord], int]:
        """One page of the instance's sessions, newest first, and their total count."""

    # -- sessions ------------------------------------------------------------------------------

    @abstractmethod
    def add_session(self, session: SessionRecord) -> None: ...

    @abstractmethod
    def get_session(self, session_id: str) -> SessionRecord | None: ...

    @abstractmethod
    def update_session(self, session_id: str, **changes: Any) -> SessionRecord | None: ...

    @abstractmethod
    def open_sessions(self) -> list[SessionRecord]:
        """Sessions that are not closed (for the time-to-live sweep)."""

    # -- schedulers -------------------------------------------------------------------------------

    @abstractmethod
    def register_scheduler(self, scheduler: SchedulerRecord) -> None: ...

    @abstractmethod
    def beat(self, scheduler_id: str) -> bool:
        """Count a heartbeat; False if the scheduler is no longer registered."""

    @abstractmethod
    def set_scheduler_executors(
        self, scheduler_id: str, executors: list[str], max_qubits: dict[str, int]
    ) -> None:
        """What the scheduler can run changed (a Ray node joined or left)."""

    @abstractmethod
    def schedulers(self) -> list[SchedulerRecord]: ...

    @abstractmethod
    def forget_scheduler(self, scheduler_id: str) -> None:
        """Unregister: the scheduler stopped, or others found it gone."""

    # -- health --------------------------------------------------------------------------------

    @abstractmethod
    def ping(self) -> None:
        """Raise if the database cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
