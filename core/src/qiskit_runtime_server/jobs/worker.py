"""The worker process: one plugin manager, one job at a time.

A worker is spawned (never forked, so it shares no locks or threads with the server), loads
the plugins from the same entry points and plugin paths as the server, and then runs the jobs
the engine sends it. Each job's inputs are validated again here, from the params text stored
with the job, so a worker needs nothing but the database's copy of a job to run it. A crash in
a simulator takes down this process only; the engine fails the job and starts another worker.
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
from typing import Any

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


def worker_main(conn: Connection, spec: WorkerSpec) -> None:
    """Entry point of a worker process."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, str(spec.threads))

    try:
        from ..catalogue import Catalogue
        from ..plugins import PluginHost

        host = PluginHost.load(
            entry_points=spec.load_entry_points,
            disabled=spec.disabled_plugins,
            plugin_paths=spec.plugin_paths,
        )
        if spec.executor not in host.executors:
            failures = "; ".join(f"{r.label()}: {r.error}" for r in host.records if r.error)
            raise RuntimeError(
                f"executor {spec.executor!r} is not registered in the worker ({failures or '-'})"
            )
        catalogue = Catalogue(host)
    except Exception as exc:
        with contextlib.suppress(OSError):  # the engine is gone too: nobody to tell
            conn.send(("broken", f"{type(exc).__name__}: {exc}"))
        return
    try:
        conn.send(("ready", os.getpid()))
    except OSError:  # the engine stopped while this worker started
        return
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            conn.send(_run(host, catalogue, spec, message))
        except (BrokenPipeError, EOFError):
            return


def _run(host: Any, catalogue: Any, spec: WorkerSpec, job: Assignment) -> tuple[Any, ...]:
    from ..programs.prepared import JobRun
    from .submission import prepare_task

    logs: list[str] = []

    def log(line: str) -> None:
        logs.append(f"{isoformat(utcnow())} {line}")

    began = time.perf_counter()
    executor = spec.executor
    try:
        prepared = prepare_task(
            job.program_id,
            job.backend,
            json.loads(job.params),
            job_id=job.job_id,
            catalogue=catalogue,
            default_shots=spec.default_shots,
            accepted=True,
        )
        executor = prepared.executor
        text = prepared.run(
            JobRun(plugins=host, log=log, threads=job.threads, idle_threads=job.idle_threads)
        )
        blob = compress(text)
        log("INFO job completed")
        return ("done", job.job_id, blob, time.perf_counter() - began, logs)
    except Exception as exc:
        reason = f"executor {executor!r} failed: {type(exc).__name__}: {exc}"
        log(f"ERROR {reason}")
        text = "".join(traceback.format_exception(exc))
        return ("failed", job.job_id, reason, text, time.perf_counter() - began, logs)
