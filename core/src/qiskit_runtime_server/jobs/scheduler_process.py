"""The scheduler in a process of its own, next to the API's.

The scheduler's work for each job (claiming it, handing it to a worker, storing its result) is
Python, and in the API's process it took the GIL from the requests: about 3 of the 11 ms of
the API process's CPU per job in the throughput benchmark. Here a spawned child process runs
the :class:`~.scheduler.Scheduler` and its dispatcher (Ray, when it is used, is only ever
imported there: the API's event loop never waits on it) with its own connection to the store
(the store is the only state the two share). The API keeps :class:`SchedulerProcess`, a proxy
with the calls it makes: ``notify`` a submission, ``cancel`` a job, the ``executors`` that some
scheduler sharing the database runs, and the ``alive_workers`` count.
The child sends what it counts for the metrics (jobs it started and ended, workers, database
errors) on a second pipe, which a thread of the API reads into ``on_event``.
The child dies with the API process (``kill -9`` included), and its workers die with it. If
the child dies alone, the API starts another: it re-queues the jobs that were running, as after
a restart of the whole server.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from .. import logs
from ..catalogue import Reach
from ..metrics import ScheduledEvents, SchedulerEvent, count_database_errors
from ..plugins import PluginHost
from ..settings import Settings
from .dispatchers.local import available_executors
from .models import REASON_CANCELLED_BY_USER, JobRecord, JobStatus, isoformat, utcnow
from .store import JobStore
from .worker import die_with_parent, leave_stopping_to_the_server

logger = logging.getLogger(__name__)

#: How often the child publishes its count of live workers (for ``/readyz``).
ALIVE_PUBLISH_SECONDS = 0.1
#: How often the API checks that the child lives.
SUPERVISE_SECONDS = 0.5
#: How often the API reads which executors the schedulers sharing the database run.
REACH_SECONDS = 1.0
#: Pause before starting another child, doubled after each death (up to the maximum) and
#: reset once a child has lived that long: a child that cannot start is not respawned in a loop.
RESTART_PAUSE_SECONDS = 1.0
RESTART_PAUSE_MAX_SECONDS = 60.0


class SchedulerProcess:
    """The API's handle on the scheduler process; ``start()`` it once the store is migrated."""

    def __init__(
        self,
        store: JobStore,
        plugins: PluginHost,
        settings: Settings,
        reach: Reach | None = None,
        on_event: Callable[[SchedulerEvent], None] | None = None,
    ) -> None:
        self.store = store
        self.on_event = on_event
        self.settings = settings
        #: What the schedulers sharing the database run (this server's included), read from
        #: the store every second: the catalogue's backends are available through them.
        self.reach = reach or Reach()
        if settings.dispatcher == "local":  # this server's own, until its scheduler says
            self.reach.update(available_executors(plugins))
        self._last_reach = 0.0
        self._context = multiprocessing.get_context("spawn")
        self._alive: Any = self._context.Value("i", 0, lock=False)
        self._send_lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._sender: Connection | None = None
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(
            target=self._supervise, name="qrs-scheduler-supervisor", daemon=True
        )
        self._events: Connection | None = None
        self._events_reader = threading.Thread(
            target=self._read_events, name="qrs-scheduler-events", daemon=True
        )
        #: The child's last counts: ready workers per executor; workers ended so far.
        self._workers_alive: dict[str, int] = {}
        self._workers_ended: dict[str, int] = {}

    def start(self) -> None:
        self._launch()
        self._supervisor.start()
        self._events_reader.start()

    def _launch(self) -> None:
        self._alive.value = 0  # not the dead child's count
        receiver, sender = self._context.Pipe(duplex=False)
        events_receiver, events_sender = self._context.Pipe(duplex=False)
        # Not a daemon: daemonic processes may not start the worker processes.
        process = self._context.Process(
            target=scheduler_main,
            args=(receiver, self._alive, self.settings, events_sender),
            name="qrs-scheduler",
        )
        process.start()
        # The child holds the reading end now. Without this copy, a message sent after the
        # child died fails at once instead of filling the pipe and blocking the API thread.
        receiver.close()
        events_sender.close()  # likewise: the reader sees the end of the pipe when the child dies
        with self._send_lock:
            if self._stopping.is_set():
                # ``stop()`` ran meanwhile and will not see this child: closing its pipe makes
                # it stop by itself.
                sender.close()
                events_receiver.close()
                return
            if self._sender is not None:
                self._sender.close()
            self._process, self._sender = process, sender
            self._workers_alive, self._workers_ended = {}, {}
            self._events = events_receiver

    def _read_events(self) -> None:
        """Apply the child's events; a dead child's pipe is dropped until the next child's."""
        finished: Connection | None = None
        while not self._stopping.is_set():
            events = self._events
            if events is None or events is finished:
                self._stopping.wait(0.1)
                continue
            try:
                if not events.poll(0.2):
                    continue
                event = events.recv()
            except (EOFError, OSError):
                finished = events
                continue
            try:
                self._apply(event)
            except Exception:  # pragma: no cover - a metric that fails never stops the reader
                logger.exception("applying the scheduler's event %r failed", event)
        if self._events is not None:
            self._events.close()

    def _apply(self, event: SchedulerEvent) -> None:
        if event[0] == "workers":
            _, alive, ended = event
            self._workers_alive = alive
            for executor, count in ended.items():
                more = count - self._workers_ended.get(executor, 0)
                if more > 0 and self.on_event is not None:
                    self.on_event(("worker_ended", executor, more))
            self._workers_ended = ended
        elif self.on_event is not None:
            self.on_event(event)

    def workers_alive(self) -> dict[str, int]:
        """Ready workers per executor, as the scheduler process last counted them."""
        if self._process is None or not self._process.is_alive():
            return {}
        return dict(self._workers_alive)

    def _supervise(self) -> None:
        pause = RESTART_PAUSE_SECONDS
        started = time.monotonic()
        while not self._stopping.wait(SUPERVISE_SECONDS):
            self._read_reach()
            process = self._process
            if process is None or process.is_alive():
                if time.monotonic() - started > RESTART_PAUSE_MAX_SECONDS:
                    pause = RESTART_PAUSE_SECONDS
                continue
            logger.error(
                "the scheduler process died (exit code %s); starting another in %.0f s",
                process.exitcode,
                pause,
            )
            if self._stopping.wait(pause):
                break
            try:
                self._launch()
            except Exception:  # out of file descriptors, say: try again after a longer pause
                logger.exception("starting another scheduler process failed")
            started = time.monotonic()
            pause = min(2 * pause, RESTART_PAUSE_MAX_SECONDS)
        # A child started by this thread gets SIGKILL when the thread ends (PDEATHSIG is per
        # thread): it must have stopped first, so this thread ends only after ``stop()``'s work.
        self._stop_child()

    def _read_reach(self) -> None:
        if time.monotonic() - self._last_reach < REACH_SECONDS:
            return
        self._last_reach = time.monotonic()
        try:
            schedulers = self.store.schedulers()
        except Exception:  # the database is unreachable: /readyz says so
            return
        # The narrowest: a job goes to whichever scheduler claims it first.
        narrowest: dict[str, int] = {}
        for scheduler in schedulers:
            for name, qubits in scheduler.max_qubits.items():
                narrowest[name] = min(narrowest.get(name, qubits), qubits)
        self.reach.update((name for s in schedulers for name in s.executors), narrowest)

    @property
    def executors(self) -> list[str]:
        """The executors some scheduler sharing the database runs."""
        return sorted(self.reach.executors)

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=30)
        else:
            self._stop_child()

    def _stop_child(self) -> None:
        process = self._process
        if process is not None and process.is_alive():
            # A child that ended meanwhile is what stopping wants: not an error to log.
            with self._send_lock, contextlib.suppress(BrokenPipeError, OSError):
                if self._sender is not None:
                    self._sender.send(("stop", ""))
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        with self._send_lock:
            if self._sender is not None:
                self._sender.close()

    def notify(self, executor: str) -> None:
        """A job for ``executor`` was queued."""
        self._send(("notify", executor))

    def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a queued or running job: the store first (so the answer is final at once),
        then the scheduler stops the job's worker."""
        record = cancel_in_store(self.store, job_id)
        if record is not None:
            self._send(("stop-job", job_id))
        return record

    def alive_workers(self) -> int:
        if self._process is None or not self._process.is_alive():
            return 0
        count: int = self._alive.value
        return count

    def _send(self, message: tuple[str, str]) -> None:
        try:
            with self._send_lock:
                if self._sender is None:
                    raise BrokenPipeError
                self._sender.send(message)
        except (BrokenPipeError, OSError):
            # The scheduler process is gone: /readyz says so until the supervisor has started
            # another, which looks at every queue when it starts (the jobs are in the store).
            logger.error("the scheduler process is not running (message %s lost)", message)


def cancel_in_store(store: JobStore, job_id: str) -> JobRecord | None:
    """Move a queued or running job to ``Cancelled`` as the user asked; None when it was
    neither."""
    return store.transition(
        job_id,
        {JobStatus.QUEUED, JobStatus.RUNNING},
        status=JobStatus.CANCELLED,
        reason="Cancelled by the user",
        reason_code=REASON_CANCELLED_BY_USER,
        finished_at=utcnow(),
        logs=[f"{isoformat(utcnow())} INFO job cancelled by the user"],
    )


def scheduler_main(
    receiver: Connection, alive: Any, settings: Settings, events: Connection | None = None
) -> None:
    """Entry point of the scheduler process; ``events`` carries its metrics to the API."""
    die_with_parent()
    leave_stopping_to_the_server()
    logs.configure(settings.log_level, settings.log_format, "scheduler")
    from ..database.connection import database_url, open_database
    from .dispatchers import make_dispatcher
    from .scheduler import Scheduler
    from .sessions import SessionService
    from .sql_store import SqlJobStore

    engine = open_database(database_url(settings.data_dir, settings.database_url))
    store = SqlJobStore(engine)
    send_lock = threading.Lock()

    def send(event: SchedulerEvent) -> None:
        if events is None:
            return
        with send_lock, contextlib.suppress(BrokenPipeError, OSError):  # the API is gone
            events.send(event)

    store.listen(ScheduledEvents(send))
    count_database_errors(engine, lambda error: send(("database_error", error)))
    plugins = PluginHost.from_settings(settings)
    scheduler = Scheduler(
        store,
        SessionService(store, settings.session_interactive_ttl),
        make_dispatcher(plugins, settings),
        settings,
    )
    scheduler.start()
    stopping = threading.Event()

    def publish_alive() -> None:
        counts: tuple[dict[str, int], dict[str, int]] = ({}, {})
        while not stopping.is_set():
            alive.value = scheduler.alive_workers()
            if scheduler.worker_counts() != counts:
                counts = scheduler.worker_counts()
                send(("workers", *counts))
            time.sleep(ALIVE_PUBLISH_SECONDS)

    threading.Thread(target=publish_alive, name="qrs-scheduler-alive", daemon=True).start()
    try:
        while True:
            try:
                kind, value = receiver.recv()
            except (EOFError, OSError):
                return
            if kind == "notify":
                scheduler.notify(value)
            elif kind == "stop-job":
                scheduler.stop_job(value)
            elif kind == "stop":
                return
    finally:
        stopping.set()
        alive.value = 0
        scheduler.stop()
        with contextlib.suppress(Exception):
            store.close()
