"""The scheduler: which queued job runs next, on which worker, and what became of it.

One thread makes every decision. It waits for the dispatcher's events (a worker ready, a job
finished, a worker gone) or for a wake-up (a new job, a cancellation), records what happened in
the store, and gives idle workers the next queued jobs. The store is the only source of truth:
a job is claimed by a compare-and-set from ``Queued`` to ``Running``, and anything the scheduler
knows is written there before it acts on it, so a restart finds every job where it was left.

What runs the jobs is the dispatcher's (``dispatchers/``: worker processes here, or actors on a
Ray cluster); the heartbeat and the re-running of other schedulers' jobs are
:class:`~.recovery.Recovery`'s; the session clock and retention are
:class:`~.housekeeping.Housekeeping`'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from typing import Any

from ..settings import Settings
from .blobs import compress
from .dispatchers.base import Broken, Dispatcher, Ended, Event, Finished, Ready, Worker
from .housekeeping import Housekeeping
from .liveness import this_scheduler
from .models import REASON_EXECUTOR_FAILED, REASON_MAX_EXECUTION_TIME, JobStatus, isoformat, utcnow
from .recovery import Recovery, fail_job, requeue_job
from .sessions import SessionService
from .store import ANY_SCHEDULER, JobStore
from .worker import Assignment

logger = logging.getLogger(__name__)

RUNNING = {JobStatus.RUNNING}
#: How often executors with an idle worker (or room for one) look at the queue untold: a job
#: submitted through another server sharing the database.
IDLE_LOOK_SECONDS = 1.0
#: How often a busy scheduler checks that its jobs are still its own and not cancelled
#: (through another server sharing the database, or a cancel message that did not arrive).
OWNERSHIP_LOOK_SECONDS = 1.0
#: How often a scheduler looks for other schedulers that are gone, to re-run their jobs.
GONE_LOOK_SECONDS = 5.0
#: How long one wait for events lasts at most (deadlines are checked after each).
STEP_SECONDS = 0.2


class Scheduler:
    """Runs queued jobs through ``dispatcher``; ``start()`` it once the store is ready."""

    def __init__(
        self,
        store: JobStore,
        sessions: SessionService,
        dispatcher: Dispatcher,
        settings: Settings,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.settings = settings
        self._commands: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        # Executors that may have queued jobs: only those are looked up in the store.
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qrs-scheduler", daemon=True)
        self._last_idle_look = 0.0
        self._last_ownership_look = 0.0
        self._last_gone_look = 0.0
        self._executors: list[str] = []
        self._max_qubits: dict[str, int] = {}
        self._alive = 0
        #: Ready workers per executor, and workers that ended so far (the metrics'), counted
        #: by the scheduler's thread from the workers it sees come and go at each step.
        self._alive_by_executor: dict[str, int] = {}
        self._ended_by_executor: dict[str, int] = {}
        self._seen_workers: set[Worker] = set()
        #: This scheduler as the database knows it; the id stamps the jobs it claims.
        self.record = this_scheduler([], dispatcher.name)
        self.recovery = Recovery(
            store,
            self.record,
            held=lambda: {w.job.id for w in self._busy()},  # type: ignore[union-attr]
            notify=self.notify,
            runnable_here=lambda: set(self._executors),
        )
        self.housekeeping = Housekeeping(store, sessions, settings.retention_days)

    # -- control from other threads ------------------------------------------------------------

    def start(self) -> None:
        self.dispatcher.start(self._wake_write)
        self._executors = self.dispatcher.executors()
        self._max_qubits = self.dispatcher.max_qubits()
        self.record.executors[:] = sorted(self._executors)
        self.record.max_qubits.update(self._max_qubits)
        self._pending.update(self._executors)
        self.recovery.start()
        # A cluster's nodes may still be joining: only a dispatcher that knows all it will
        # ever run at start (local) fails the jobs of executors it lacks.
        self.recovery.recover(starting=self.dispatcher.complete_at_start)
        self.recovery.stepped()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.dispatcher.close()
        self.recovery.stop()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # already awake, or stopped
            os.write(self._wake_write, b"!")

    def notify(self, executor: str) -> None:
        """A job for ``executor`` was queued."""
        with self._pending_lock:
            self._pending.add(executor)
        self.wake()

    def stop_job(self, job_id: str) -> None:
        """Stop the worker running ``job_id``, if any (the job is already cancelled)."""
        self._commands.put(("stop", job_id))
        self.wake()

    def alive_workers(self) -> int:
        """Workers ready to take jobs, as counted by the scheduler's thread at its last step
        (another thread must not walk the dispatcher's pools while they change)."""
        return self._alive

    def executors(self) -> list[str]:
        return list(self._executors)

    def worker_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Ready workers per executor, and workers that ended so far per executor (copies, as
        the scheduler's thread counted them at its last step)."""
        return dict(self._alive_by_executor), dict(self._ended_by_executor)

    # -- the scheduler's thread ----------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception:  # pragma: no cover - keep the scheduler alive whatever happens
                logger.exception("scheduler step failed")
                time.sleep(0.5)
            self.recovery.stepped()

    def _step(self) -> None:
        events = self.dispatcher.wait(self._wake_read, STEP_SECONDS)
        for event in events:
            try:
                self._handle(event)
            except Exception:  # the database failed over, say: the other events still count
                logger.exception("handling %s failed", type(event).__name__)
                if isinstance(event, (Finished, Ended)):
                    # Its job stays Running in the store, and no longer held here: the next
                    # look of the recovery queues it again.
                    event.worker.job = None
        self._alive = self.dispatcher.alive()
        self._count_workers()
        self._run_commands()
        self._enforce_deadlines()
        self._sweep()
        self._dispatch()

    def _handle(self, event: Event) -> None:
        if isinstance(event, Ready):
            self._pending.add(event.worker.executor)
        elif isinstance(event, Broken):
            logger.error("executor %r cannot run: %s", event.executor, event.reason)
            self._pending.add(event.executor)  # its queued jobs fail, unless others run it
        elif isinstance(event, Finished):
            self._finish(event)
        elif isinstance(event, Ended):
            self._ended(event)

    def _count_workers(self) -> None:
        workers = self.dispatcher.workers()
        alive: dict[str, int] = {}
        for worker in workers:
            alive[worker.executor] = alive.get(worker.executor, 0) + worker.ready
        current = set(workers)
        ended = dict(self._ended_by_executor)
        for worker in self._seen_workers - current:
            ended[worker.executor] = ended.get(worker.executor, 0) + 1
        self._seen_workers = current
        self._alive_by_executor, self._ended_by_executor = alive, ended

    def _run_commands(self) -> None:
        while True:
            try:
                command, job_id = self._commands.get_nowait()
            except queue.Empty:
                return
            if command == "stop":
                for worker in self._busy():
                    if worker.job is not None and worker.job.id == job_id:
                        self._stop(worker)

    def _busy(self) -> list[Worker]:
        return [w for w in self.dispatcher.workers() if w.job is not None]

    def _finish(self, event: Finished) -> None:
        worker, outcome = event.worker, event.outcome
        job = worker.job
        worker.job, worker.deadline = None, None
        # No look at the queue here: an executor with jobs left is still in ``_pending``.
        if job is None or job.id != outcome.job_id:  # pragma: no cover - protocol error
            logger.error("%s reported job %s it was not running", worker.label, outcome.job_id)
            return
        changes: dict[str, Any]
        if outcome.failure is None:
            changes = {"status": JobStatus.COMPLETED, "result": outcome.result}
        else:
            changes = {
                "status": JobStatus.FAILED,
                "result": compress(outcome.traceback),
                "reason": outcome.failure,
                "reason_code": REASON_EXECUTOR_FAILED,
            }
        finished = self.store.transition(
            job.id, RUNNING, owner=self.record.id, finished_at=utcnow(),
            usage_seconds=outcome.elapsed, logs=outcome.logs, **changes,
        )  # fmt: skip
        if finished is not None and job.session_id:
            self.sessions.job_finished(job.session_id, outcome.elapsed)

    def _ended(self, event: Ended) -> None:
        """A worker died while running a job: fail the job, or queue it again when the
        worker's machine was lost."""
        job = event.worker.job
        if job is None:
            return
        event.worker.job = None
        elapsed = time.monotonic() - event.worker.started
        if event.lost:
            outcome = requeue_job(self.store, job, event.reason, elapsed)
            if outcome == "queued":
                self.notify(job.executor)
            elif outcome == "failed" and job.session_id:
                self.sessions.job_finished(job.session_id, elapsed)
            return
        failed = fail_job(self.store, job, event.reason, elapsed, owner=self.record.id)
        if failed and job.session_id:
            self.sessions.job_finished(job.session_id, elapsed)

    def _stop(self, worker: Worker) -> None:
        """Stop a worker whose job was cancelled or timed out; keep the time the job used."""
        self.dispatcher.stop(worker)
        job, worker.job = worker.job, None
        if job is not None:
            elapsed = time.monotonic() - worker.started
            cancelled = self.store.transition(
                job.id, {JobStatus.CANCELLED}, owner=self.record.id, usage_seconds=elapsed
            )
            if cancelled is not None and job.session_id:
                self.sessions.job_finished(job.session_id, elapsed)
        self._pending.add(worker.executor)  # a replacement, if jobs wait

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in self._busy():
            job = worker.job
            if job is None or worker.deadline is None or now < worker.deadline:
                continue
            elapsed = now - worker.started
            reason = f"Job ran longer than its maximum execution time of {job.max_execution_time} s"
            self.store.transition(
                job.id, RUNNING, owner=self.record.id, status=JobStatus.CANCELLED, reason=reason,
                reason_code=REASON_MAX_EXECUTION_TIME, finished_at=utcnow(),
                usage_seconds=elapsed, result=compress(reason),
                logs=[f"{isoformat(utcnow())} ERROR {reason}"],
            )  # fmt: skip
            self._stop(worker)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_ownership_look >= OWNERSHIP_LOOK_SECONDS:
            self._last_ownership_look = now
            self._stop_jobs_no_longer_ours()
            self._executors_changed()
        if now - self._last_gone_look >= GONE_LOOK_SECONDS:
            self._last_gone_look = now
            self.recovery.recover(starting=False)
        if now - self._last_idle_look >= IDLE_LOOK_SECONDS:
            self._last_idle_look = now
            for executor in self._executors:
                # An idle worker, or room for one (a stopped worker is replaced only for a job).
                if self.dispatcher.idle(executor) is not None or self.dispatcher.can_grow(executor):
                    self._pending.add(executor)
        self.housekeeping.tick(now)

    def _executors_changed(self) -> None:
        """Publish what this scheduler can run when it changed (a Ray node joined or left)."""
        executors, max_qubits = self.dispatcher.executors(), self.dispatcher.max_qubits()
        if sorted(executors) != sorted(self._executors) or max_qubits != self._max_qubits:
            logger.info("executors now runnable: %s", ", ".join(sorted(executors)) or "none")
            self.store.set_scheduler_executors(self.record.id, executors, max_qubits)
            self._pending.update(set(executors) - set(self._executors))
            # Gone because its workers fail to start everywhere: its queued jobs fail, unless
            # another scheduler runs it.
            self._pending.update(
                e for e in set(self._executors) - set(executors) if self.dispatcher.broken(e)
            )
            self._executors, self._max_qubits = executors, max_qubits
            self.record.executors[:] = sorted(executors)
            self.record.max_qubits.clear()
            self.record.max_qubits.update(max_qubits)

    def _stop_jobs_no_longer_ours(self) -> None:
        """Stop the workers whose job was cancelled through another server, or re-queued by
        one that found this scheduler gone (its result would no longer be written anyway)."""
        busy = [(w, w.job) for w in self._busy() if w.job is not None]
        if not busy:
            return
        states = self.store.job_states({job.id for _, job in busy})
        for worker, job in busy:
            state = states.get(job.id)
            if (
                state is None
                or state.status != JobStatus.RUNNING
                or state.scheduler_id != self.record.id
                or state.attempts != job.attempts  # re-queued, then claimed again here
            ):
                self._stop(worker)

    def _dispatch(self) -> None:
        """Start queued jobs on idle workers. An executor stays in ``_pending`` while it may
        have queued jobs: until a claim finds its queue empty (or takes its last job), or
        until a submission adds it again. The once-a-second look of ``_sweep`` covers what a
        claim cannot see (a row another server holds locked, a job submitted to another
        server sharing the database)."""
        with self._pending_lock:
            pending, self._pending = self._pending, set()
        remaining = list(pending)
        try:
            while remaining:
                self._dispatch_executor(remaining[0])
                remaining.pop(0)
        finally:
            # A failed look (the database unreachable, say) is tried again on the next step.
            self._pending.update(remaining)  # the scheduler thread's own write needs no lock

    def _dispatch_executor(self, executor: str) -> None:
        broken = self.dispatcher.broken(executor)
        if broken is not None:
            self._fail_queued(executor, broken)
            return
        if executor not in self._executors:
            return
        while True:
            worker = self.dispatcher.idle(executor)
            if worker is None:
                if self.dispatcher.can_grow(executor):
                    if self.store.next_queued(executor) is None:
                        return  # a submission or the next look brings the executor back
                    self.dispatcher.grow(executor)
                # Jobs may be waiting (backpressure): look again when a worker is ready or free.
                self._pending.add(executor)
                return
            if not self._start(worker):
                return

    def _start(self, worker: Worker) -> bool:
        """Give ``worker`` the next queued job of its executor; whether jobs may be left."""
        now = utcnow()
        where = f"{self.dispatcher.name} dispatcher, {worker.label}"
        claimed = self.store.claim_next(
            worker.executor,
            running_at=now,
            log=f"{isoformat(now)} INFO job started ({where})",
            scheduler_id=self.record.id,
        )
        if claimed is None:
            return False
        job = claimed.job
        worker.job = job
        worker.started = time.monotonic()
        worker.deadline = (
            worker.started + job.max_execution_time if job.max_execution_time else None
        )
        threads, idle_threads = self.dispatcher.threads(worker, self._busy(), claimed.more_queued)
        assignment = Assignment(
            job.id, job.program_id, job.backend, claimed.params, threads, idle_threads
        )
        if not self.dispatcher.send(worker, assignment):
            # The worker died before it got the job: give the job back to the queue.
            worker.job = None
            self.store.transition(
                job.id, RUNNING, owner=self.record.id, status=JobStatus.QUEUED, running_at=None,
                scheduler_id=None,
            )  # fmt: skip
            return True
        if job.session_id:
            self.sessions.job_started(job.session_id)
        return claimed.more_queued

    def _fail_queued(self, executor: str, broken: str) -> None:
        """Fail the queued jobs of an executor whose workers cannot start, unless another
        server sharing the database offers it."""
        if self.recovery.others_run(executor):
            return
        while (job := self.store.next_queued(executor)) is not None:
            reason = f"executor {executor!r} cannot run: {broken}"
            fail_job(self.store, job, reason, owner=ANY_SCHEDULER, running=False)
