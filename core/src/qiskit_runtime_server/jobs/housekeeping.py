"""The scheduler's periodic chores that are not about running jobs: the session clock and the
retention of finished jobs."""

from __future__ import annotations

import logging
from datetime import timedelta

from .models import utcnow
from .sessions import SessionService
from .store import JobStore

logger = logging.getLogger(__name__)

SESSION_SWEEP_SECONDS = 1.0
#: Retention runs hourly, or more often when the retention itself is shorter than hours.
RETENTION_SWEEP_MAX_SECONDS = 3600.0


class Housekeeping:
    """Closes sessions whose time is up and deletes jobs older than the retention."""

    def __init__(self, store: JobStore, sessions: SessionService, retention_days: float) -> None:
        self.store = store
        self.sessions = sessions
        self.retention = timedelta(days=retention_days)
        self._last_session_sweep = 0.0
        self._last_retention_sweep = 0.0

    def tick(self, now: float) -> None:
        """Do what is due at ``now`` (monotonic seconds)."""
        if now - self._last_session_sweep >= SESSION_SWEEP_SECONDS:
            self._last_session_sweep = now
            self.sessions.sweep()
        interval = min(RETENTION_SWEEP_MAX_SECONDS, max(1.0, self.retention.total_seconds() / 4))
        if now - self._last_retention_sweep >= interval:
            self._last_retention_sweep = now
            cutoff = utcnow() - self.retention
            deleted = self.store.delete_finished_before(cutoff)
            if deleted:
                logger.info("retention: deleted %d jobs finished before %s", deleted, cutoff)
