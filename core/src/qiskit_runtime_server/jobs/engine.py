"""The job engine: per-executor pools of worker processes, fed from the store.

One thread owns every worker. It waits on the workers' pipes, on their process sentinels and
on a wake-up pipe (a new job, a cancellation), and after each event it records what happened
and gives idle workers the next queued jobs. The store is the only source of truth: a job is
claimed by a compare-and-set from ``Queued`` to ``Running``, and anything the engine knows is
written there before it acts on it, so a restart finds every job where it was left.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from ..plugins import PluginHost
from ..settings import Settings
from .blobs import compress
from .cpus import usable_cpus
from .liveness import HEARTBEAT_SECONDS, Heartbeats, gone_here, this_engine
from .models import (
    REASON_EXECUTOR_FAILED,
    REASON_MAX_EXECUTION_TIME,
    JobRecord,
    JobStatus,
    isoformat,
    utcnow,
)
from .sessions import SessionService
from .store import ANY_ENGINE, AnyEngine, JobStore
from .worker import Assignment, WorkerSpec, worker_main

logger = logging.getLogger(__name__)

RUNNING = {JobStatus.RUNNING}
#: Restarts a job survives before it is failed as interrupted.
MAX_ATTEMPTS = 3
SESSION_SWEEP_SECONDS = 1.0
#: How often executors with an idle worker (or room for one) look at the queue untold: a job
#: submitted through another server sharing the database.
IDLE_LOOK_SECONDS = 1.0
#: Retention runs hourly, or more often when the retention itself is shorter than hours.
RETENTION_SWEEP_MAX_SECONDS = 3600.0
#: How often a busy engine checks that its jobs are still its own and not cancelled (through
#: another server sharing the database, or a cancel message that did not arrive).
OWNERSHIP_LOOK_SECONDS = 1.0
#: How often an engine looks for other engines that are gone, to re-run their jobs.
GONE_LOOK_SECONDS = 5.0
#: The heartbeat (its own thread, so that a slow step does not pass for death) stops when the
#: engine thread has not completed a step for this long: a hung engine's jobs then run elsewhere.
ENGINE_STALL_SECONDS = 120.0


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        hints = {
            "SIGKILL": " (the out-of-memory killer or an operator)",
            "SIGSEGV": " (a segmentation fault in the simulator)",
            "SIGABRT": " (the simulator aborted)",
        }
        return f"was killed by signal {name}{hints.get(name, '')}"
    return f"exited with code {exitcode}"


def available_executors(plugins: PluginHost) -> list[str]:
    """The executors the engine runs jobs for: those available on this host."""
    return [name for name, e in plugins.executors.items() if e.info.availability.available]


@dataclass(eq=False)
class _Worker:
    executor: str
    process: BaseProcess
    conn: Connection
    ready: bool = False
    job: JobRecord | None = None
    started: float = 0.0
    deadline: float | None = None
    #: Cores offered to the job it runs (its share and the idle ones it was offered).
    cores: int = 0


@dataclass(eq=False)
class _Pool:
    executor: str
    size: int
    spec: WorkerSpec
    workers: list[_Worker] = field(default_factory=list)
    broken: str | None = None
    startup_failures: int = 0


class JobEngine:
    """Runs queued jobs in worker processes; ``start()`` it once the store is ready."""

    def __init__(
        self, store: JobStore, sessions: SessionService, plugins: PluginHost, settings: Settings
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._pools: dict[str, _Pool] = {}
        self._gpu_executors = {
            name for name, executor in plugins.executors.items() if executor.info.device != "CPU"
        }
        self._cpus = cpus = usable_cpus()
        for name in available_executors(plugins):
            executor = plugins.executors[name]
            default = (settings.workers or cpus) if executor.info.device == "CPU" else 1
            size = max(1, settings.executor_workers.get(name, default))
            spec = WorkerSpec(
                executor=name,
                load_entry_points=settings.load_entry_points,
                disabled_plugins=tuple(settings.disabled_plugins),
                plugin_paths=tuple(settings.plugins),
                default_shots=settings.default_shots,
                threads=cpus,
            )
            self._pools[name] = _Pool(name, size, spec)
        self._commands: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        # Executors that may have queued jobs: only those are looked up in the store.
        self._pending: set[str] = set(self._pools)
        self._pending_lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qrs-engine", daemon=True)
        self._last_session_sweep = 0.0
        self._last_idle_look = 0.0
        self._last_retention_sweep = 0.0
        self._last_step = time.monotonic()
        self._last_ownership_look = 0.0
        self._last_gone_look = 0.0
        #: This engine as the database knows it; the id stamps the jobs it claims.
        self.record = this_engine(list(self._pools))
        self._heartbeats = Heartbeats()
        self._heart = threading.Thread(target=self._beat, name="qrs-engine-heartbeat", daemon=True)

    # -- control from other threads ------------------------------------------------------------

    def start(self) -> None:
        self.store.register_engine(self.record)
        self._heart.start()
        self.recover()
        for pool in self._pools.values():
            for _ in range(pool.size if self.settings.prestart_workers else 1):
                self._spawn(pool)
        self._last_step = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._heart.is_alive():
            self._heart.join(timeout=10)
        for pool in self._pools.values():
            for worker in pool.workers:
                self._kill(worker)
            pool.workers.clear()
        # Its running jobs (stopped above, still Running) are now anyone's to run again.
        try:
            self.store.forget_engine(self.record.id)
        except Exception:  # the database is unreachable: others find the heartbeat stopped
            logger.warning("could not unregister the job engine", exc_info=True)
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
        """Kill the worker running ``job_id``, if any (the job is already cancelled)."""
        self._commands.put(("stop", job_id))
        self.wake()

    def alive_workers(self) -> int:
        return sum(w.ready for pool in list(self._pools.values()) for w in list(pool.workers))

    # -- start-up ------------------------------------------------------------------------------

    def recover(self, *, starting: bool = True) -> None:
        """Re-queue the running jobs of engines that are gone (a previous run of this server
        included) and fail those interrupted too often. An engine elsewhere counts as alive
        until its heartbeat stops.

        At start, also fail the jobs, queued or interrupted, that no registered engine can run
        (an executor uninstalled). The same look runs every few seconds (``starting=False``)
        without that: another server may be restarting, and queued jobs wait for it."""
        # Jobs before engines: an engine that claimed a job read here was registered before.
        running = self.store.jobs_in_status(JobStatus.RUNNING)
        engines = self.store.engines()
        others = [e for e in engines if e.id != self.record.id]
        stopped = self._heartbeats.stopped_among(others)
        gone = {e.id for e in others if e.id in stopped or gone_here(e, self.record)}
        alive = [self.record, *(e for e in others if e.id not in gone)]
        alive_ids = {e.id for e in alive}
        runnable = {name for e in alive for name in e.executors}
        held = {w.job.id for w in self._busy_workers() if w.job is not None}
        now = isoformat(utcnow())
        for job in running:
            if job.engine_id == self.record.id:
                if job.id in held:
                    continue
                why = "the job engine lost track of the job"  # a write that failed midway
            elif job.engine_id in alive_ids:
                continue  # running on an engine that is alive
            else:
                why = "the server stopped while the job ran"
            if job.attempts >= MAX_ATTEMPTS or (starting and job.executor not in runnable):
                because = (
                    f"it was interrupted {job.attempts} times"
                    if job.attempts >= MAX_ATTEMPTS
                    else f"executor {job.executor!r} is not available on this server"
                )
                self._fail(job, f"interrupted: {why} and {because}", owner=job.engine_id)
                continue
            requeued = self.store.transition(
                job.id,
                RUNNING,
                owner=job.engine_id,
                status=JobStatus.QUEUED,
                running_at=None,
                engine_id=None,
                logs=[f"{now} WARNING {why}; queued again"],
            )
            if requeued is not None and job.executor in self._pools:
                self.notify(job.executor)
        if starting:
            for job in self.store.jobs_in_status(JobStatus.QUEUED):
                if job.executor not in runnable:
                    reason = f"executor {job.executor!r} is not available on this server"
                    self._fail(job, reason, owner=ANY_ENGINE, running=False)
        for engine_id in gone:
            self.store.forget_engine(engine_id)
            self._heartbeats.forget(engine_id)

    # -- the engine thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception:  # pragma: no cover - keep the engine alive whatever happens
                logger.exception("job engine step failed")
                time.sleep(0.5)
            self._last_step = time.monotonic()

    def _beat(self) -> None:
        """The heartbeat thread: others re-run this engine's jobs when it stops."""
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            if time.monotonic() - self._last_step > ENGINE_STALL_SECONDS:
                continue  # hung: let the others judge it gone
            try:
                self._beat_once()
            except Exception:  # the database is unreachable: the next beat tries again
                logger.warning("job engine heartbeat failed", exc_info=True)

    def _beat_once(self) -> None:
        if not self.store.beat(self.record.id):
            # Found gone by another server (this one's database was unreachable for long):
            # its jobs may run elsewhere now, and the ownership look stops them here.
            logger.warning("the job engine was found gone by another server; registering again")
            self.store.register_engine(self.record)

    def _step(self) -> None:
        workers = [w for pool in self._pools.values() for w in pool.workers]
        by_conn: dict[Any, _Worker] = {w.conn: w for w in workers}
        by_sentinel: dict[Any, _Worker] = {w.process.sentinel: w for w in workers}
        ready = wait([self._wake_read, *by_conn, *by_sentinel], timeout=0.2)
        for item in ready:
            if item == self._wake_read:
                os.read(self._wake_read, 4096)
            elif item in by_conn:
                self._receive(by_conn[item])
        for item in ready:
            worker = by_sentinel.get(item)
            if worker is not None and worker.process.exitcode is not None:
                self._reap(worker)
        self._run_commands()
        self._enforce_deadlines()
        self._sweep()
        self._dispatch()

    def _run_commands(self) -> None:
        while True:
            try:
                command, job_id = self._commands.get_nowait()
            except queue.Empty:
                return
            if command == "stop":
                for worker in self._busy_workers():
                    if worker.job is not None and worker.job.id == job_id:
                        self._kill(worker)

    def _busy_workers(self) -> Iterable[_Worker]:
        return [w for pool in self._pools.values() for w in pool.workers if w.job is not None]

    def _receive(self, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            return  # the sentinel reports the exit
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            self._pool_of(worker).startup_failures = 0
            self._pending.add(worker.executor)
        elif kind == "broken":
            pool = self._pool_of(worker)
            pool.broken = message[1]
        elif kind == "done":
            _, job_id, blob, elapsed, logs = message
            self._finish(worker, job_id, JobStatus.COMPLETED, elapsed, logs, result=blob)
        elif kind == "failed":
            _, job_id, reason, text, elapsed, logs = message
            self._finish(
                worker, job_id, JobStatus.FAILED, elapsed, logs,
                result=compress(text), reason=reason, reason_code=REASON_EXECUTOR_FAILED,
            )  # fmt: skip

    def _finish(
        self,
        worker: _Worker,
        job_id: str,
        status: JobStatus,
        elapsed: float,
        logs: list[str],
        **changes: Any,
    ) -> None:
        job = worker.job
        worker.job, worker.deadline = None, None
        # No look at the queue here: an executor with jobs left is still in ``_pending``.
        if job is None or job.id != job_id:  # pragma: no cover - protocol error
            logger.error("worker %s reported job %s it was not running", worker.process.pid, job_id)
            return
        finished = self.store.transition(
            job_id, RUNNING, owner=self.record.id, status=status, finished_at=utcnow(),
            usage_seconds=elapsed, logs=logs, **changes,
        )  # fmt: skip
        if finished is not None and job.session_id:
            self.sessions.job_finished(job.session_id, elapsed)

    def _reap(self, worker: _Worker) -> None:
        """A worker process ended: fail its job (if any) and forget the worker."""
        pool = self._pool_of(worker)
        if worker in pool.workers:
            pool.workers.remove(worker)
        reason = _exit_reason(worker.process.exitcode)
        if worker.job is not None:
            elapsed = time.monotonic() - worker.started
            reason = f"the worker process running the job {reason}"
            failed = self._fail(worker.job, reason, elapsed, owner=self.record.id)
            if failed and worker.job.session_id:
                self.sessions.job_finished(worker.job.session_id, elapsed)
        elif not worker.ready:
            pool.startup_failures += 1
            logger.error("a worker of executor %r %s while starting", pool.executor, reason)
            if pool.startup_failures >= 3 and pool.broken is None:
                pool.broken = f"its worker processes fail to start: the last one {reason}"
        worker.conn.close()
        worker.process.join(timeout=1)

    def _fail(
        self,
        job: JobRecord,
        reason: str,
        elapsed: float = 0.0,
        *,
        owner: str | AnyEngine | None,
        running: bool = True,
    ) -> bool:
        """Fail ``job`` if it is still running on engine ``owner`` (queued, with
        ``ANY_ENGINE``); whether it was."""
        failed = self.store.transition(
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

    def _kill(self, worker: _Worker) -> None:
        pool = self._pool_of(worker)
        if worker in pool.workers:
            pool.workers.remove(worker)
        worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
        job = worker.job
        if job is not None:  # cancelled or timed out: keep the time it used
            elapsed = time.monotonic() - worker.started
            cancelled = self.store.transition(
                job.id, {JobStatus.CANCELLED}, owner=self.record.id, usage_seconds=elapsed
            )
            if cancelled is not None and job.session_id:
                self.sessions.job_finished(job.session_id, elapsed)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self._busy_workers()):
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
            self._kill(worker)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_ownership_look >= OWNERSHIP_LOOK_SECONDS:
            self._last_ownership_look = now
            self._stop_jobs_no_longer_ours()
        if now - self._last_gone_look >= GONE_LOOK_SECONDS:
            self._last_gone_look = now
            self.recover(starting=False)
        if now - self._last_idle_look >= IDLE_LOOK_SECONDS:
            self._last_idle_look = now
            for pool in self._pools.values():
                # An idle worker, or room for one (a killed worker is replaced only for a job).
                if pool.broken is None and (
                    len(pool.workers) < pool.size
                    or any(w.ready and w.job is None for w in pool.workers)
                ):
                    self._pending.add(pool.executor)
        if now - self._last_session_sweep >= SESSION_SWEEP_SECONDS:
            self._last_session_sweep = now
            self.sessions.sweep()
        retention = timedelta(days=self.settings.retention_days)
        interval = min(RETENTION_SWEEP_MAX_SECONDS, max(1.0, retention.total_seconds() / 4))
        if now - self._last_retention_sweep >= interval:
            self._last_retention_sweep = now
            cutoff = utcnow() - retention
            deleted = self.store.delete_finished_before(cutoff)
            if deleted:
                logger.info("retention: deleted %d jobs finished before %s", deleted, cutoff)

    def _stop_jobs_no_longer_ours(self) -> None:
        """Kill the workers whose job was cancelled through another server, or re-queued by
        one that found this engine gone (its result would no longer be written anyway)."""
        busy = [(w, w.job) for w in self._busy_workers() if w.job is not None]
        if not busy:
            return
        states = self.store.job_states({job.id for _, job in busy})
        for worker, job in busy:
            state = states.get(job.id)
            if (
                state is None
                or state.status != JobStatus.RUNNING
                or state.engine_id != self.record.id
                or state.attempts != job.attempts  # re-queued, then claimed again here
            ):
                self._kill(worker)

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
            self._pending.update(remaining)  # the engine thread's own write needs no lock

    def _dispatch_executor(self, executor: str) -> None:
        pool = self._pools.get(executor)
        if pool is None:
            return
        if pool.broken is not None:
            self._fail_queued(pool)
            return
        while True:
            worker = next((w for w in pool.workers if w.ready and w.job is None), None)
            if worker is None:
                if len(pool.workers) < pool.size:
                    if self.store.next_queued(executor) is None:
                        return  # a submission or the next look brings the executor back
                    while len(pool.workers) < pool.size:
                        self._spawn(pool)
                # Jobs may be waiting: look again when a worker is ready or free.
                self._pending.add(executor)
                return
            if not self._start(worker):
                return

    def _start(self, worker: _Worker) -> bool:
        """Give ``worker`` the next queued job of its executor; whether jobs may be left."""
        now = utcnow()
        claimed = self.store.claim_next(
            worker.executor,
            running_at=now,
            log=f"{isoformat(now)} INFO job started (worker process {worker.process.pid})",
            engine_id=self.record.id,
        )
        if claimed is None:
            return False
        job = claimed.job
        worker.job = job
        worker.started = time.monotonic()
        worker.deadline = (
            worker.started + job.max_execution_time if job.max_execution_time else None
        )
        threads, idle_threads = self._threads_for(worker, claimed.more_queued)
        try:
            worker.conn.send(
                Assignment(
                    job.id, job.program_id, job.backend, claimed.params, threads, idle_threads
                )
            )
        except (BrokenPipeError, OSError):
            # The worker died before it got the job: give the job back to the queue.
            worker.job = None
            self.store.transition(
                job.id, RUNNING, owner=self.record.id, status=JobStatus.QUEUED, running_at=None,
                engine_id=None,
            )  # fmt: skip
            self._kill(worker)
            return True
        if job.session_id:
            self.sessions.job_started(job.session_id)
        return claimed.more_queued

    def _threads_for(self, worker: _Worker, more_queued: bool) -> tuple[int, int]:
        """The cores a job owns and the cores nobody uses when it starts.

        Each worker of a CPU executor owns an equal share of the cores (one each by default: as
        many workers as cores), so the shares of jobs running together never add up to more
        than the machine has and two jobs take about half the time of running them in turn.
        The executor may also use the idle cores, for independent work only (shots,
        trajectories): it loses little when a job starting later takes a core back, while one
        state's update, whose threads wait for each other at every gate, would stall. Cores
        already offered to running jobs are not idle, and none are while this executor has
        jobs waiting for a worker."""
        cpus = self._cpus
        if worker.executor in self._gpu_executors:
            return cpus, 0
        share = self.settings.job_threads or max(1, cpus // self._pool_of(worker).size)
        idle = 0
        if not more_queued:
            taken = sum(
                w.cores
                for w in self._busy_workers()
                if w is not worker and w.executor not in self._gpu_executors
            )
            idle = max(0, cpus - taken - share)
        worker.cores = share + idle
        return share, idle

    def _fail_queued(self, pool: _Pool) -> None:
        """Fail the queued jobs of an executor whose workers cannot start here, unless another
        server sharing the database offers it."""
        others = (e for e in self.store.engines() if e.id != self.record.id)
        if any(pool.executor in e.executors for e in others):
            return
        while (job := self.store.next_queued(pool.executor)) is not None:
            reason = f"executor {pool.executor!r} cannot run: {pool.broken}"
            self._fail(job, reason, owner=ANY_ENGINE, running=False)

    def _spawn(self, pool: _Pool) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=worker_main,
            args=(child, pool.spec),
            name=f"qrs-worker-{pool.executor}",
            daemon=True,
        )
        process.start()
        child.close()
        pool.workers.append(_Worker(executor=pool.executor, process=process, conn=parent))

    def _pool_of(self, worker: _Worker) -> _Pool:
        return self._pools[worker.executor]
