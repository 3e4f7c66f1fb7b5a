"""Running jobs off the event loop, and recording what happened.

Jobs run on a pool of threads (the simulators release the GIL). Every status change is a
compare-and-set on the store, so a cancel racing with a start or a finish leaves one final state.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from qiskit.primitives import PrimitiveResult
from qiskit_ibm_runtime import RuntimeEncoder

from .. import __version__
from ..plugins import PluginHost
from ..tasks import ExecutionTask
from .models import (
    REASON_CANCELLED_BY_USER,
    REASON_EXECUTOR_FAILED,
    JobRecord,
    JobStatus,
    isoformat,
    utcnow,
)
from .sessions import SessionService
from .store import JobStore
from .submission import Submission

logger = logging.getLogger(__name__)

#: IBM's reason code for a job that ran longer than its ``max_execution_time``.
REASON_MAX_EXECUTION_TIME = 1305


class JobRunner:
    """Accepts validated submissions and runs them with at most ``workers`` at a time."""

    def __init__(
        self, store: JobStore, plugins: PluginHost, sessions: SessionService, workers: int
    ) -> None:
        self.store = store
        self.plugins = plugins
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qrs-job")
        self._cancel_events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def submit(self, submission: Submission) -> JobRecord:
        record = submission.record
        self.store.add_job(record)
        for path in submission.ignored_options:
            self.log(record.id, f"WARNING option {path!r} is not applied by this executor")
        event = threading.Event()
        with self._lock:
            self._cancel_events[record.id] = event
        self._pool.submit(self._run, submission, event)
        return record

    def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a queued or running job; None if it had already ended."""
        record = self.store.transition(
            job_id,
            {JobStatus.QUEUED, JobStatus.RUNNING},
            status=JobStatus.CANCELLED,
            reason="Cancelled by the user",
            reason_code=REASON_CANCELLED_BY_USER,
            finished_at=utcnow(),
        )
        with self._lock:
            event = self._cancel_events.get(job_id)
        if record is not None and event is not None:
            event.set()
        return record

    def log(self, job_id: str, line: str) -> None:
        self.store.append_log(job_id, f"{isoformat(utcnow())} {line}")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, submission: Submission, cancelled: threading.Event) -> None:
        job_id = submission.record.id
        try:
            self._execute(submission, cancelled)
        except Exception:  # pragma: no cover - a bug in the runner itself must not kill the pool
            logger.exception("job %s: the runner failed", job_id)
            self.store.transition(
                job_id,
                {JobStatus.QUEUED, JobStatus.RUNNING},
                status=JobStatus.FAILED,
                reason="Internal error of the server while running the job",
                reason_code=REASON_EXECUTOR_FAILED,
                finished_at=utcnow(),
            )
        finally:
            with self._lock:
                self._cancel_events.pop(job_id, None)

    def _execute(self, submission: Submission, cancelled: threading.Event) -> None:
        record = submission.record
        started = self.store.transition(
            record.id, {JobStatus.QUEUED}, status=JobStatus.RUNNING, running_at=utcnow()
        )
        if started is None:
            return  # cancelled (or deleted) while queued
        if record.session_id:
            self.sessions.job_started(record.session_id)
        task = dataclasses.replace(
            submission.task,
            log=lambda line: self.log(record.id, line),
            cancelled=cancelled.is_set,
        )
        self.log(record.id, f"INFO job started on {record.backend}")
        timer = None
        if record.max_execution_time:
            timer = threading.Timer(record.max_execution_time, cancelled.set)
            timer.daemon = True
            timer.start()
        began = time.perf_counter()
        outcome: dict[str, Any]
        try:
            result = self.plugins.execute(task)
            _add_server_metadata(result, task, submission.ignored_options)
            outcome = {
                "status": JobStatus.COMPLETED,
                "result": json.dumps(result, cls=RuntimeEncoder),
            }
            self.log(record.id, "INFO job completed")
        except Exception as exc:
            reason = f"executor {task.executor!r} failed: {type(exc).__name__}: {exc}"
            logger.info("job %s failed: %s", record.id, reason, exc_info=True)
            self.log(record.id, f"ERROR {reason}")
            outcome = {
                "status": JobStatus.FAILED,
                "reason": reason,
                "reason_code": REASON_EXECUTOR_FAILED,
                "result": "".join(traceback.format_exception(exc)),
            }
        finally:
            if timer is not None:
                timer.cancel()
        usage = time.perf_counter() - began
        if record.max_execution_time and usage > record.max_execution_time:
            outcome = {
                "status": JobStatus.CANCELLED,
                "reason": (
                    f"Job ran longer than its maximum execution time of "
                    f"{record.max_execution_time} s"
                ),
                "reason_code": REASON_MAX_EXECUTION_TIME,
                "result": None,
            }
        finished = self.store.transition(
            record.id, {JobStatus.RUNNING}, finished_at=utcnow(), usage_seconds=usage, **outcome
        )
        if finished is None:  # cancelled while running: keep the time it used
            self.store.update_job(record.id, usage_seconds=usage)
        if record.session_id:
            self.sessions.job_finished(record.session_id, usage)


def _add_server_metadata(
    result: PrimitiveResult,
    task: ExecutionTask,
    ignored_options: list[str],
) -> None:
    """State, in every result, what ran it and which options it did not apply."""
    result.metadata.setdefault("version", 2)
    result.metadata["qiskit_runtime_server"] = {
        "version": __version__,
        "backend": task.backend_name,
        "executor": task.executor,
        "ignored_options": list(ignored_options),
    }
