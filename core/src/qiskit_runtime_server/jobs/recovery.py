"""A scheduler's standing among those sharing the database: its registration and heartbeat,
and the running jobs of schedulers that are gone, which it queues again (or fails after
``MAX_ATTEMPTS``). ``liveness.py`` says when another scheduler counts as gone."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

from .blobs import compress
from .liveness import HEARTBEAT_SECONDS, Heartbeats, gone_here
from .models import REASON_EXECUTOR_FAILED, JobRecord, JobStatus, SchedulerRecord, isoformat, utcnow
from .store import ANY_SCHEDULER, AnyScheduler, JobStore

logger = logging.getLogger(__name__)

RUNNING = {JobStatus.RUNNING}
#: Restarts a job survives before it is failed as interrupted.
MAX_ATTEMPTS = 3
#: The heartbeat (its own thread, so that a slow step does not pass for death) stops when the
#: scheduler's thread has not completed a step for this long: a hung scheduler's jobs then run
#: elsewhere.
SCHEDULER_STALL_SECONDS = 120.0


def fail_job(
    store: JobStore,
    job: JobRecord,
    reason: str,
    elapsed: float = 0.0,
    *,
    owner: str | AnyScheduler | None,
    running: bool = True,
) -> bool:
    """Fail ``job`` if it is still running on scheduler ``owner`` (queued, with
    ``ANY_SCHEDULER``); whether it was."""
    failed = store.transition(
        job.id,
        RUNNING if running else {JobStatus.QUEUED},
        owner=owner,
        status=JobStatus.FAILED,
        reason=reason,
        reason_code=REASON_EXECUTOR_FAILED,
        finished_at=utcnow(),
        usage_seconds=elapsed,
        result=compress(reason),
        logs=[f"{isoformat(utcnow())} ERROR {reason}"],
    )
    return failed is not None


def requeue_job(
    store: JobStore, job: JobRecord, why: str, elapsed: float = 0.0
) -> Literal["queued", "failed"] | None:
    """Queue a running job again (``why`` goes to its log), or fail it once it was
    interrupted ``MAX_ATTEMPTS`` times; None when it was neither (no longer running there:
    cancelled meanwhile, say)."""
    if job.attempts >= MAX_ATTEMPTS:
        reason = f"interrupted: {why} and it was interrupted {job.attempts} times"
        return "failed" if fail_job(store, job, reason, elapsed, owner=job.scheduler_id) else None
    requeued = store.transition(
        job.id,
        RUNNING,
        owner=job.scheduler_id,
        status=JobStatus.QUEUED,
        running_at=None,
        scheduler_id=None,
        logs=[f"{isoformat(utcnow())} WARNING {why}; queued again"],
    )
    return "queued" if requeued is not None else None


class Recovery:
    """Registers ``record``, beats its heartbeat from a thread of its own, and re-runs the
    jobs of schedulers that are gone (see :meth:`recover`)."""

    def __init__(
        self,
        store: JobStore,
        record: SchedulerRecord,
        *,
        held: Callable[[], set[str]],
        notify: Callable[[str], None],
        runnable_here: Callable[[], set[str]],
    ) -> None:
        self.store = store
        self.record = record
        #: Ids of the jobs this scheduler's workers run now.
        self._held = held
        #: Called with an executor whose job was queued again.
        self._notify = notify
        self._runnable_here = runnable_here
        self._heartbeats = Heartbeats()
        self._stopping = threading.Event()
        self._last_step = time.monotonic()
        self._heart = threading.Thread(
            target=self._beat, name="qrs-scheduler-heartbeat", daemon=True
        )

    def start(self) -> None:
        self.store.register_scheduler(self.record)
        self._heart.start()

    def stepped(self) -> None:
        """The scheduler's thread completed a step: it is not hung."""
        self._last_step = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()
        if self._heart.is_alive():
            self._heart.join(timeout=10)
        # Its running jobs (stopped by now, still Running) are anyone's to run again.
        try:
            self.store.forget_scheduler(self.record.id)
        except Exception:  # the database is unreachable: others find the heartbeat stopped
            logger.warning("could not unregister the scheduler", exc_info=True)

    def _beat(self) -> None:
        """The heartbeat thread: others re-run this scheduler's jobs when it stops."""
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            if time.monotonic() - self._last_step > SCHEDULER_STALL_SECONDS:
                continue  # hung: let the others judge it gone
            try:
                self._beat_once()
            except Exception:  # the database is unreachable: the next beat tries again
                logger.warning("scheduler heartbeat failed", exc_info=True)

    def _beat_once(self) -> None:
        if not self.store.beat(self.record.id):
            # Found gone by another server (this one's database was unreachable for long):
            # its jobs may run elsewhere now, and the ownership look stops them here.
            logger.warning("the scheduler was found gone by another server; registering again")
            self.store.register_scheduler(self.record)

    def recover(self, *, starting: bool = True) -> None:
        """Re-queue the running jobs of schedulers that are gone (a previous run of this server
        included) and fail those interrupted too often. A scheduler elsewhere counts as alive
        until its heartbeat stops.

        At start, also fail the jobs, queued or interrupted, that no registered scheduler can
        run (an executor uninstalled). The same look runs every few seconds
        (``starting=False``) without that: another server may be restarting, and queued jobs
        wait for it."""
        # Jobs before schedulers: one that claimed a job read here was registered before.
        running = self.store.jobs_in_status(JobStatus.RUNNING)
        schedulers = self.store.schedulers()
        others = [s for s in schedulers if s.id != self.record.id]
        stopped = self._heartbeats.stopped_among(others)
        gone = {s.id for s in others if s.id in stopped or gone_here(s, self.record)}
        alive = [s for s in others if s.id not in gone]
        runnable = self._runnable_here().union(*(s.executors for s in alive))
        alive_ids = {self.record.id, *(s.id for s in alive)}
        held = self._held()
        for job in running:
            if job.scheduler_id == self.record.id:
                if job.id in held:
                    continue
                why = "the scheduler lost track of the job"  # a write that failed midway
            elif job.scheduler_id in alive_ids:
                continue  # running on a scheduler that is alive
            else:
                why = "the server stopped while the job ran"
            if starting and job.executor not in runnable and job.attempts < MAX_ATTEMPTS:
                reason = f"executor {job.executor!r} is not available on this server"
                fail_job(
                    self.store, job, f"interrupted: {why} and {reason}", owner=job.scheduler_id
                )
            elif requeue_job(self.store, job, why) == "queued":
                self._notify(job.executor)
        if starting:
            for job in self.store.jobs_in_status(JobStatus.QUEUED):
                if job.executor not in runnable:
                    reason = f"executor {job.executor!r} is not available on this server"
                    fail_job(self.store, job, reason, owner=ANY_SCHEDULER, running=False)
        for scheduler_id in gone:
            self.store.forget_scheduler(scheduler_id)
            self._heartbeats.forget(scheduler_id)

    def others_run(self, executor: str) -> bool:
        """Whether another registered scheduler runs ``executor``."""
        return any(
            executor in s.executors for s in self.store.schedulers() if s.id != self.record.id
        )
