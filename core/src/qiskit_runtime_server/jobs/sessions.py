"""Sessions and batches: their life cycle, as the client reads it (``GET /sessions/{id}``).

``open`` until the first job starts, ``active`` while jobs run or arrive within
``interactive_ttl`` of each other, ``inactive`` once that gap has passed, and ``closed`` once the
user closed it (and its last job ended), cancelled it, or ``max_ttl`` passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..errors import Conflict, InvalidRequest, NotFound
from .models import (
    REASON_SESSION_CLOSED,
    JobStatus,
    SessionMode,
    SessionRecord,
    isoformat,
    new_id,
    utcnow,
)
from .store import JobStore

#: IBM's limits: sessions live at most 8 hours, and wait 60 s for the next job.
MAX_TTL_SECONDS = 28_800
INTERACTIVE_TTL_SECONDS = 60
PENDING = (JobStatus.QUEUED, JobStatus.RUNNING)


class SessionService:
    """Every read and change of a session goes through here."""

    def __init__(self, store: JobStore, interactive_ttl: int = INTERACTIVE_TTL_SECONDS) -> None:
        self.store = store
        self.interactive_ttl = interactive_ttl

    def create(self, *, instance: str, mode: Any, backend: str, max_ttl: Any) -> SessionRecord:
        if mode not in ("dedicated", "batch"):
            raise InvalidRequest(f"'mode' must be 'dedicated' or 'batch', got {mode!r}")
        ttl = MAX_TTL_SECONDS
        if max_ttl is not None:
            if not isinstance(max_ttl, int) or isinstance(max_ttl, bool) or max_ttl <= 0:
                raise InvalidRequest("'max_ttl' must be a positive integer of seconds")
            ttl = min(max_ttl, MAX_TTL_SECONDS)
        session_mode: SessionMode = mode
        now = utcnow()
        session = SessionRecord(
            id=new_id(),
            instance=instance,
            mode=session_mode,
            backend=backend,
            max_ttl=ttl,
            interactive_ttl=self.interactive_ttl,
            created=now,
            timestamps=[("open", now)],
        )
        self.store.add_session(session)
        return session

    def get(self, session_id: str, instance: str) -> SessionRecord:
        session = self.store.get_session(session_id)
        if session is None or session.instance != instance:
            raise NotFound(f"session {session_id} was not found")
        return self._refresh(session)

    def _refresh(self, session: SessionRecord, now: datetime | None = None) -> SessionRecord:
        """Apply the time-based transitions (max_ttl, interactive_ttl) as of ``now``."""
        if session.state == "closed":
            return session
        now = now or utcnow()
        # IBM counts max_ttl from the first job's start; an unused session from its creation.
        if now - (session.activated_at or session.created) > timedelta(seconds=session.max_ttl):
            return self._close(session, "max_ttl of the session has passed", cancel_queued=True)
        if session.state == "active" and not self._has_pending(session.id):
            last = session.last_job_completed or session.last_job_started or session.created
            if now - last > timedelta(seconds=session.interactive_ttl):
                session = self._set(session, state="inactive")
        if not session.accepting_jobs and not self._has_pending(session.id):
            return self._close(session, "closed by the user")
        return session

    def _has_pending(self, session_id: str) -> bool:
        return any(job.status in PENDING for job in self.store.session_jobs(session_id))

    def _set(self, session: SessionRecord, **changes: Any) -> SessionRecord:
        if "state" in changes and changes["state"] != session.state:
            changes["timestamps"] = [*session.timestamps, (changes["state"], utcnow())]
        updated = self.store.update_session(session.id, **changes)
        return updated or session

    def _close(
        self, session: SessionRecord, reason: str, *, cancel_queued: bool = False
    ) -> SessionRecord:
        if cancel_queued:
            why = f"Session {session.id} was closed: {reason}"
            for job in self.store.session_jobs(session.id):
                self.store.transition(
                    job.id,
                    {JobStatus.QUEUED},
                    status=JobStatus.CANCELLED,
                    reason=why,
                    reason_code=REASON_SESSION_CLOSED,
                    finished_at=utcnow(),
                    logs=[f"{isoformat(utcnow())} WARNING job cancelled: {why}"],
                )
        return self._set(
            session, state="closed", state_reason=reason, accepting_jobs=False, closed_at=utcnow()
        )

    def check_accepts(
        self, session_id: Any, instance: str, backend: str, dry_run_of: str | None = None
    ) -> None:
        """Raise unless a job for ``backend`` may join the session now. A dry run (``backend``
        is the mock of ``dry_run_of``) may join a session of the backend it stands for."""
        if not isinstance(session_id, str):
            raise InvalidRequest("'session_id' must be a string")
        session = self.get(session_id, instance)
        if session.state == "closed" or not session.accepting_jobs:
            raise Conflict(f"session {session_id} is closed and does not accept jobs")
        if session.backend not in (backend, dry_run_of):
            raise InvalidRequest(
                f"session {session_id} runs on {session.backend}; jobs cannot use {backend}"
            )

    def stop_accepting(self, session_id: str, instance: str) -> SessionRecord:
        session = self.get(session_id, instance)
        if session.state == "closed":
            return session
        return self._refresh(self._set(session, accepting_jobs=False))

    def cancel(self, session_id: str, instance: str) -> SessionRecord:
        """``DELETE /sessions/{id}/close``: cancel queued jobs, close now."""
        session = self.get(session_id, instance)
        if session.state == "closed":
            return session
        return self._close(session, "cancelled by the user", cancel_queued=True)

    def sweep(self) -> None:
        """Apply the time-based transitions to every open session (the scheduler calls this
        every second, so a session expires even when nobody reads it)."""
        now = utcnow()
        for session in self.store.open_sessions():
            self._refresh(session, now)

    def job_started(self, session_id: str) -> None:
        session = self.store.get_session(session_id)
        if session is None:
            return
        now = utcnow()
        changes: dict[str, Any] = {"last_job_started": now, "state": "active"}
        if session.activated_at is None:
            changes["activated_at"] = now
        self._set(session, **changes)

    def job_finished(self, session_id: str, usage_seconds: float) -> None:
        session = self.store.get_session(session_id)
        if session is None:
            return
        session = self._set(
            session,
            last_job_completed=utcnow(),
            elapsed_time=session.elapsed_time + usage_seconds,
        )
        self._refresh(session)
