"""Job and session records, and their states as IBM names them."""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """IBM's timestamp format: ISO 8601 in UTC with a ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id() -> str:
    """Job and session ids look like IBM's: 20 lowercase base-32 characters."""
    return uuid.uuid4().hex[:20]


class JobStatus(enum.StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


#: IBM reason codes used by the server (https://quantum.cloud.ibm.com/docs/en/errors).
REASON_EXECUTOR_FAILED = 1010  # "Error returned at backend level"
REASON_MAX_EXECUTION_TIME = 1305  # the client raises RuntimeJobMaxTimeoutError for it
REASON_CANCELLED_BY_USER = 1400
REASON_SESSION_CLOSED = 1402


@dataclass
class JobRecord:
    """One job's row, without its blobs (params, result) and logs, which the store serves
    separately so that status polls never read them."""

    id: str
    instance: str
    program_id: str
    backend: str
    executor: str
    created: datetime = field(default_factory=utcnow)
    status: JobStatus = JobStatus.QUEUED
    reason: str | None = None
    reason_code: int | None = None
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    private: bool = False
    runtime: str | None = None
    log_level: str | None = None
    max_execution_time: int | None = None
    running_at: datetime | None = None
    finished_at: datetime | None = None
    usage_seconds: float = 0.0
    num_circuits: int = 0
    num_qubits: list[int] = field(default_factory=list)
    circuit_depths: list[int] = field(default_factory=list)
    executions: int = 0
    qiskit_version: str = ""
    caller: str | None = None
    #: How many times a worker started the job (a restart re-runs interrupted jobs).
    attempts: int = 0
    #: The scheduler (server) whose worker runs or last ran the job: see :class:`SchedulerRecord`.
    scheduler_id: str | None = None

    def api_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"status": self.status.value}
        if self.reason is not None:
            state["reason"] = self.reason
        if self.reason_code is not None:
            state["reason_code"] = self.reason_code
        return state

    def to_api(self, params: str | None = None) -> dict[str, Any]:
        """The job as ``GET /jobs/{id}`` returns it; ``params`` is the stored params text."""
        body: dict[str, Any] = {
            "id": self.id,
            "backend": self.backend,
            "state": self.api_state(),
            "status": self.status.value,
            "program": {"id": self.program_id},
            "created": isoformat(self.created),
            "session_id": self.session_id,
            "tags": list(self.tags),
            "private": self.private,
            "runtime": self.runtime,
            "cost": self.max_execution_time,
            "usage": {"seconds": round(self.usage_seconds, 6)},
            "estimated_running_time_seconds": None,
        }
        if params is not None:
            body["params"] = json.loads(params)
        return body


SessionMode = Literal["dedicated", "batch"]
SessionState = Literal["open", "active", "inactive", "closed"]


@dataclass
class SessionRecord:
    """A session (``dedicated``) or batch, as IBM describes them."""

    id: str
    instance: str
    mode: SessionMode
    backend: str
    max_ttl: int
    interactive_ttl: int
    created: datetime = field(default_factory=utcnow)
    state: SessionState = "open"
    state_reason: str | None = None
    accepting_jobs: bool = True
    activated_at: datetime | None = None
    closed_at: datetime | None = None
    last_job_started: datetime | None = None
    last_job_completed: datetime | None = None
    elapsed_time: float = 0.0
    timestamps: list[tuple[str, datetime]] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "backend_name": self.backend,
            "mode": self.mode,
            "state": self.state,
            "state_reason": self.state_reason,
            "accepting_jobs": self.accepting_jobs,
            "max_ttl": self.max_ttl,
            "interactive_ttl": self.interactive_ttl,
            "active_ttl": self.max_ttl,
            "started_at": isoformat(self.created),
            "activated_at": isoformat(self.activated_at),
            "closed_at": isoformat(self.closed_at),
            "last_job_started": isoformat(self.last_job_started),
            "last_job_completed": isoformat(self.last_job_completed),
            "elapsed_time": round(self.elapsed_time, 6),
            "timestamps": [
                {"status": status, "timestamp": isoformat(moment)}
                for status, moment in self.timestamps
            ],
        }


@dataclass(frozen=True)
class SchedulerRecord:
    """A scheduler (one per server) sharing the database. Servers re-queue the running jobs
    of a scheduler only once it is gone: its process ended (same host) or its heartbeat stopped."""

    id: str
    host: str
    #: Where its process id means something: the kernel's boot id and the process's PID
    #: namespace (containers on one host have their own, even with the host's name).
    pid_space: str
    pid: int
    #: The process's start time as the kernel counts it: a reused process id has another.
    pid_started: str
    #: The executors it runs jobs for now (on Ray: those of the cluster's live nodes).
    executors: list[str]
    started_at: datetime = field(default_factory=utcnow)
    #: Heartbeats so far; others see the count change, never compare clocks.
    beats: int = 0
    #: How it runs jobs: ``local`` worker processes, or ``ray`` actors.
    dispatcher: str = "local"
    #: The widest circuit each executor simulates where it runs (``ExecutorInfo.max_qubits``
    #: on the workers' hosts, which may have a GPU the API's host lacks).
    max_qubits: dict[str, int] = field(default_factory=dict)
