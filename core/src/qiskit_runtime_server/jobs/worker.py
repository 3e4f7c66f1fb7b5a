"""The worker process: one plugin manager, one job at a time.

A worker is spawned (never forked, so it shares no locks or threads with the server), loads
the plugins from the same entry points and plugin paths as the server, and then runs the jobs
the scheduler sends it. Each job's inputs are validated again here, from the params text stored
with the job, so a worker needs nothing but the database's copy of a job to run it. A crash in
a simulator takes down this process only; the scheduler fails the job and starts another worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection

from .. import logs as server_logs  # ``logs`` names a job's log lines here
from ..logs import LogFormat
from .blobs import compress
from .models import isoformat, utcnow


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build the same plugin manager as the server."""

    executor: str
    load_entry_points: bool
    disabled_plugins: tuple[str, ...]
    plugin_paths: tuple[str, ...]
    default_shots: int
    #: OpenMP/BLAS threads at most; each job gets its share in ``Assignment.threads``.
    threads: int
    #: The server's log level and format (``QRS_LOG_LEVEL``, ``QRS_LOG_FORMAT``).
    log_level: str = "info"
    log_format: LogFormat = "text"


@dataclass(frozen=True)
class Assignment:
    """One job sent to a worker."""

    job_id: str
    program_id: str
    backend: str
    params: str
    #: CPU threads for this job (see ExecutionTask.threads and .idle_threads).
    threads: int = 0
    idle_threads: int = 0


def die_with_parent() -> None:
    """Ask Linux to kill this process if the server dies (kill -9 included)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass(frozen=True)
class Outcome:
    """What running one job gave: its result (compressed) or why it failed."""

    job_id: str
    elapsed: float
    logs: list[str]
    result: bytes | None = None
    #: Set when the job failed: the reason for the job's record, and the traceback.
    failure: str | None = None
    traceback: str = ""


class WorkerRuntime:
    """A worker's plugins and catalogue, loaded once, and the running of one job: shared by
    the worker process here and the executor actor on a Ray node."""

    def __init__(self, spec: WorkerSpec) -> None:
        from ..catalogue import Catalogue
        from ..plugins import PluginHost

        self.spec = spec
        self.host = PluginHost.load(
            entry_points=spec.load_entry_points,
            disabled=spec.disabled_plugins,
            plugin_paths=spec.plugin_paths,
        )
        if spec.executor not in self.host.executors:
            failures = "; ".join(f"{r.label()}: {r.error}" for r in self.host.records if r.error)
            raise RuntimeError(
                f"executor {spec.executor!r} is not registered in the worker ({failures or '-'})"
            )
        availability = self.host.executors[spec.executor].info.availability
        if not availability.available:
            raise RuntimeError(f"executor {spec.executor!r} is unavailable: {availability.reason}")
        # IBM's device names resolve to this executor: a job under one of them is in this
        # worker's queue because the server's default executor was this one when it came.
        self.catalogue = Catalogue(self.host, default_executor=spec.executor)

    def run(self, job: Assignment) -> Outcome:
        """Run ``job``: its inputs are validated again from the params text as stored."""
        from ..programs.prepared import JobRun
        from .submission import prepare_task

        logs: list[str] = []

        def log(line: str) -> None:
            logs.append(f"{isoformat(utcnow())} {line}")

        began = time.perf_counter()
        executor = self.spec.executor
        logged_job = server_logs.job_id.set(job.job_id)  # for the lines logged while it runs
        try:
            prepared = prepare_task(
                job.program_id,
                job.backend,
                json.loads(job.params),
                job_id=job.job_id,
                catalogue=self.catalogue,
                default_shots=self.spec.default_shots,
                accepted=True,
            )
            executor = prepared.executor
            text = prepared.run(
                JobRun(
                    plugins=self.host, log=log, threads=job.threads, idle_threads=job.idle_threads
                )
            )
            blob = compress(text)
            log("INFO job completed")
            return Outcome(job.job_id, time.perf_counter() - began, logs, result=blob)
        except Exception as exc:
            reason = f"executor {executor!r} failed: {type(exc).__name__}: {exc}"
            log(f"ERROR {reason}")
            text = "".join(traceback.format_exception(exc))
            return Outcome(
                job.job_id, time.perf_counter() - began, logs, failure=reason, traceback=text
            )
        finally:
            server_logs.job_id.reset(logged_job)


def leave_stopping_to_the_server() -> None:
    """Ignore Ctrl-C (SIGINT) and SIGTERM: the server stops its children itself, in order
    (scheduler, then workers), when it gets either. Both usually reach the whole process group
    at once (a terminal's Ctrl-C, ``timeout``, systemd's default ``KillMode=control-group``);
    a child that died of them first was reported as a crash and restarted during a normal
    shutdown. A child is never orphaned by this: it gets SIGKILL when its parent dies
    (:func:`die_with_parent`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def limit_threads(threads: int) -> None:
    """OpenMP and BLAS use at most ``threads`` (each job then gets its share)."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, str(threads))


def worker_main(conn: Connection, spec: WorkerSpec) -> None:
    """Entry point of a worker process: ("ready", pid) or ("broken", reason), then one
    :class:`Outcome` per :class:`Assignment` received."""
    die_with_parent()
    leave_stopping_to_the_server()
    limit_threads(spec.threads)
    server_logs.configure(spec.log_level, spec.log_format, "worker")
    try:
        runtime = WorkerRuntime(spec)
    except Exception as exc:
        with contextlib.suppress(OSError):  # the scheduler is gone too: nobody to tell
            conn.send(("broken", f"{type(exc).__name__}: {exc}"))
        return
    try:
        conn.send(("ready", os.getpid()))
    except OSError:  # the scheduler stopped while this worker started
        return
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            conn.send(runtime.run(message))
        except (BrokenPipeError, EOFError):
            return
