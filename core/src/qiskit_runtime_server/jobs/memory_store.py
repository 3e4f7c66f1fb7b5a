"""An in-process job store: everything in dictionaries, behind one lock."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Collection
from typing import Any, TypeVar

from .models import JobRecord, JobStatus, SessionRecord
from .store import JobQuery, JobStore

_Record = TypeVar("_Record", JobRecord, SessionRecord)


class MemoryJobStore(JobStore):
    """Jobs live as long as the process. Every method is atomic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, JobRecord] = {}
        self._sessions: dict[str, SessionRecord] = {}

    def add_job(self, job: JobRecord) -> None:
        with self._lock:
            if job.id in self._jobs:
                raise KeyError(f"job {job.id} exists")
            self._jobs[job.id] = copy.deepcopy(job)

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(job) if job else None

    def list_jobs(self, query: JobQuery) -> tuple[list[JobRecord], int]:
        with self._lock:
            matching = [job for job in self._jobs.values() if query.matches(job)]
            matching.sort(key=lambda job: job.created, reverse=not query.ascending)
            page = matching[query.offset : query.offset + query.limit]
            return [copy.deepcopy(job) for job in page], len(matching)

    def transition(
        self, job_id: str, allowed_from: Collection[JobStatus], **changes: Any
    ) -> JobRecord | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in allowed_from:
                return None
            return copy.deepcopy(self._apply(job, changes))

    def update_job(self, job_id: str, **changes: Any) -> JobRecord | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(self._apply(job, changes)) if job else None

    @staticmethod
    def _apply(record: _Record, changes: dict[str, Any]) -> _Record:
        fields = {f.name for f in dataclasses.fields(record)}
        for name, value in changes.items():
            if name not in fields:
                raise AttributeError(f"{type(record).__name__} has no field {name!r}")
            setattr(record, name, value)
        return record

    def append_log(self, job_id: str, line: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.logs.append(line)

    def delete_job(self, job_id: str) -> bool:
        with self._lock:
            return self._jobs.pop(job_id, None) is not None

    def queue_lengths(self) -> dict[str, int]:
        with self._lock:
            lengths: dict[str, int] = {}
            for job in self._jobs.values():
                if not job.status.final:
                    lengths[job.backend] = lengths.get(job.backend, 0) + 1
            return lengths

    def session_jobs(self, session_id: str) -> list[JobRecord]:
        with self._lock:
            return [
                copy.deepcopy(job) for job in self._jobs.values() if job.session_id == session_id
            ]

    def usage_seconds(self, instance: str) -> float:
        with self._lock:
            return sum(job.usage_seconds for job in self._jobs.values() if job.instance == instance)

    def add_session(self, session: SessionRecord) -> None:
        with self._lock:
            self._sessions[session.id] = copy.deepcopy(session)

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            session = self._sessions.get(session_id)
            return copy.deepcopy(session) if session else None

    def update_session(self, session_id: str, **changes: Any) -> SessionRecord | None:
        with self._lock:
            session = self._sessions.get(session_id)
            return copy.deepcopy(self._apply(session, changes)) if session else None
