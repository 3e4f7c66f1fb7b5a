"""The job store interface: the only way the server reads or changes jobs and sessions.

Status changes go through :meth:`JobStore.transition`, a compare-and-set, so that a job
cancelled while it starts, or finished while it is cancelled, ends in exactly one final state
whatever the interleaving.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import JobRecord, JobStatus, SessionRecord


@dataclass(frozen=True)
class JobQuery:
    """Filters and paging of ``GET /jobs``, as the client sends them."""

    instance: str
    limit: int = 200
    offset: int = 0
    backend: str | None = None
    pending: bool | None = None
    program: str | None = None
    tags: Sequence[str] = ()
    session_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    ascending: bool = False

    def matches(self, job: JobRecord) -> bool:
        if job.instance != self.instance:
            return False
        if self.backend is not None and job.backend != self.backend:
            return False
        if self.pending is not None and self.pending == job.status.final:
            return False
        if self.program is not None and job.program_id != self.program:
            return False
        if self.tags and not set(self.tags) <= set(job.tags):
            return False
        if self.session_id is not None and job.session_id != self.session_id:
            return False
        if self.created_after is not None and job.created < self.created_after:
            return False
        return not (self.created_before is not None and job.created > self.created_before)


class JobStore(ABC):
    """Where jobs, their results and logs, and sessions are kept. Methods return copies."""

    @abstractmethod
    def add_job(self, job: JobRecord) -> None: ...

    @abstractmethod
    def get_job(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    def list_jobs(self, query: JobQuery) -> tuple[list[JobRecord], int]:
        """One page of matching jobs (newest first unless ascending) and the total count."""

    @abstractmethod
    def transition(
        self, job_id: str, allowed_from: Collection[JobStatus], **changes: Any
    ) -> JobRecord | None:
        """Apply ``changes`` only if the job's status is in ``allowed_from``; the new record
        or None."""

    @abstractmethod
    def update_job(self, job_id: str, **changes: Any) -> JobRecord | None: ...

    @abstractmethod
    def append_log(self, job_id: str, line: str) -> None: ...

    @abstractmethod
    def delete_job(self, job_id: str) -> bool: ...

    @abstractmethod
    def queue_lengths(self) -> dict[str, int]:
        """Queued and running jobs per backend, over all instances."""

    @abstractmethod
    def session_jobs(self, session_id: str) -> list[JobRecord]: ...

    @abstractmethod
    def usage_seconds(self, instance: str) -> float: ...

    @abstractmethod
    def add_session(self, session: SessionRecord) -> None: ...

    @abstractmethod
    def get_session(self, session_id: str) -> SessionRecord | None: ...

    @abstractmethod
    def update_session(self, session_id: str, **changes: Any) -> SessionRecord | None: ...
