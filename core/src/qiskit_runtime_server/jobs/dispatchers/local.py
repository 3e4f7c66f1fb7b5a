"""The local dispatcher: pools of worker processes on this host, one pool per executor.

Workers are spawned (never forked). The scheduler's thread waits on their pipes and process
sentinels and on its wake-up pipe at once (:meth:`LocalDispatcher.wait`), so a result, a crash
or a new job all wake it without polling.

A GPU executor's pool keeps one spare worker (with ``prestart_workers``): started ahead, with
its plugins loaded, it takes no job while the pool's other workers live, and takes the next
one at once when a worker is stopped (a cancel, a deadline) or dies, while another spare
starts. Without it the job after a cancel waited for a new process to import the simulator
and start CUDA (12.7 s on a GPU host, against 0.5 s for any other job). A CPU pool has a
worker per core already.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from ...plugins import PluginHost
from ...settings import Settings
from ..cpus import usable_cpus
from ..worker import Assignment, Outcome, WorkerSpec, worker_main
from .base import Broken, Dispatcher, Ended, Event, Finished, Ready, Worker

logger = logging.getLogger(__name__)


def exit_reason(exitcode: int | None) -> str:
    """Why a worker process ended, in words."""
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
    """The executors available on this host."""
    return [name for name, e in plugins.executors.items() if e.info.availability.available]


def worker_spec(executor: str, settings: Settings, threads: int) -> WorkerSpec:
    """What a worker of ``executor`` needs to load the same plugins as the server."""
    return WorkerSpec(
        executor=executor,
        load_entry_points=settings.load_entry_points,
        disabled_plugins=tuple(settings.disabled_plugins),
        plugin_paths=tuple(settings.plugins),
        default_shots=settings.default_shots,
        threads=threads,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )


@dataclass(eq=False)
class _Process:
    worker: Worker
    process: BaseProcess
    conn: Connection


@dataclass(eq=False)
class _Pool:
    executor: str
    size: int
    spec: WorkerSpec
    gpu: bool
    #: Workers started beyond ``size`` that take a job only when fewer than ``size`` others
    #: are alive (see the module's docstring).
    spare: int = 0
    processes: list[_Process] = field(default_factory=list)
    broken: str | None = None
    startup_failures: int = 0


class LocalDispatcher(Dispatcher):
    """Worker processes on this host; see the module's docstring."""

    name = "local"

    def __init__(self, plugins: PluginHost, settings: Settings) -> None:
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._cpus = cpus = usable_cpus()
        self._pools: dict[str, _Pool] = {}
        self._max_qubits: dict[str, int] = {}
        self._closing = False
        for name in available_executors(plugins):
            executor = plugins.executors[name]
            self._max_qubits[name] = executor.info.max_qubits
            gpu = executor.info.device != "CPU"
            declared = executor.info.workers
            default = (declared or 1) if gpu else (settings.workers or declared or cpus)
            size = max(1, settings.executor_workers.get(name, default))
            spec = worker_spec(name, settings, cpus)
            spare = 1 if gpu and settings.prestart_workers else 0
            self._pools[name] = _Pool(name, size, spec, gpu, spare)

    def start(self, wake: int) -> None:  # noqa: ARG002 - its wait() watches the pipes
        for pool in self._pools.values():
            for _ in range(pool.size + pool.spare if self.settings.prestart_workers else 1):
                self._spawn(pool)

    def executors(self) -> list[str]:
        return list(self._pools)

    def max_qubits(self) -> dict[str, int]:
        return dict(self._max_qubits)

    def workers(self) -> list[Worker]:
        return [p.worker for pool in self._pools.values() for p in pool.processes]

    def _processes(self) -> list[_Process]:
        return [p for pool in self._pools.values() for p in pool.processes]

    def wait(self, wake: int, timeout: float) -> list[Event]:
        processes = self._processes()
        by_conn: dict[Any, _Process] = {p.conn: p for p in processes}
        by_sentinel: dict[Any, _Process] = {p.process.sentinel: p for p in processes}
        ready = wait([wake, *by_conn, *by_sentinel], timeout=timeout)
        events: list[Event] = []
        for item in ready:
            if item == wake:
                os.read(wake, 4096)
            elif item in by_conn:
                events.extend(self._receive(by_conn[item]))
        for item in ready:
            process = by_sentinel.get(item)
            if process is not None and process.process.exitcode is not None:
                events.extend(self._reap(process))
        return events

    def _receive(self, process: _Process) -> list[Event]:
        try:
            message = process.conn.recv()
        except (EOFError, OSError):
            return []  # the sentinel reports the exit
        pool = self._pools[process.worker.executor]
        if isinstance(message, Outcome):
            return [Finished(process.worker, message)]
        if message[0] == "ready":
            process.worker.ready = True
            pool.startup_failures = 0
            return [Ready(process.worker)]
        if message[0] == "broken":
            pool.broken = message[1]
            return [Broken(pool.executor, message[1])]
        logger.error("a worker sent an unknown message %r", message[0])  # pragma: no cover
        return []

    def _reap(self, process: _Process) -> list[Event]:
        """A worker process ended: forget it, and say so if it held a job or never started."""
        pool = self._pools[process.worker.executor]
        if process in pool.processes:
            pool.processes.remove(process)
        reason = exit_reason(process.process.exitcode)
        process.conn.close()
        process.process.join(timeout=1)
        if process.worker.ready:
            self._refill(pool)
        if process.worker.job is not None:
            return [Ended(process.worker, f"the worker process running the job {reason}")]
        if not process.worker.ready:
            pool.startup_failures += 1
            logger.error("a worker of executor %r %s while starting", pool.executor, reason)
            if pool.startup_failures >= 3 and pool.broken is None:
                pool.broken = f"its worker processes fail to start: the last one {reason}"
                return [Broken(pool.executor, pool.broken)]
        return []

    def idle(self, executor: str) -> Worker | None:
        pool = self._pools.get(executor)
        if pool is None or sum(p.worker.job is not None for p in pool.processes) >= pool.size:
            return None  # a spare waits for a worker to go
        # The oldest first: a spare stays spare while the workers ahead of it are idle.
        return next((p.worker for p in pool.processes if p.worker.ready and not p.worker.job), None)

    def can_grow(self, executor: str) -> bool:
        pool = self._pools.get(executor)
        return (
            pool is not None
            and pool.broken is None
            and len(pool.processes) < pool.size + pool.spare
        )

    def grow(self, executor: str) -> None:
        pool = self._pools[executor]
        while len(pool.processes) < pool.size + pool.spare:
            self._spawn(pool)

    def broken(self, executor: str) -> str | None:
        pool = self._pools.get(executor)
        return None if pool is None else pool.broken

    def send(self, worker: Worker, assignment: Assignment) -> bool:
        process = self._process_of(worker)
        if process is None:
            return False
        try:
            process.conn.send(assignment)
        except (BrokenPipeError, OSError):
            self.stop(worker)
            return False
        return True

    def stop(self, worker: Worker) -> None:
        process = self._process_of(worker)
        if process is None:  # already ended
            return
        pool = self._pools[worker.executor]
        pool.processes.remove(process)
        process.process.kill()
        process.process.join(timeout=5)
        process.conn.close()
        self._refill(pool)

    def _refill(self, pool: _Pool) -> None:
        """Start another spare at once after a worker of a pool with spares went."""
        if pool.spare and pool.broken is None and not self._closing:
            while len(pool.processes) < pool.size + pool.spare:
                self._spawn(pool)

    def threads(self, worker: Worker, busy: list[Worker], more_queued: bool) -> tuple[int, int]:
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
        pool = self._pools[worker.executor]
        if pool.gpu:
            return cpus, 0
        share = self.settings.job_threads or max(1, cpus // pool.size)
        idle = 0
        if not more_queued:
            taken = sum(
                w.cores for w in busy if w is not worker and not self._pools[w.executor].gpu
            )
            idle = max(0, cpus - taken - share)
        worker.cores = share + idle
        return share, idle

    def close(self) -> None:
        self._closing = True
        for pool in self._pools.values():
            for process in list(pool.processes):
                self.stop(process.worker)

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
        worker = Worker(executor=pool.executor, label=f"worker process {process.pid}")
        pool.processes.append(_Process(worker, process, parent))

    def _process_of(self, worker: Worker) -> _Process | None:
        pool = self._pools[worker.executor]
        return next((p for p in pool.processes if p.worker is worker), None)
