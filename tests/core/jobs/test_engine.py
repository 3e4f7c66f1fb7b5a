"""The job engine's CPU threads per job and its looks at the queue, with stand-in
workers (the rest of the engine runs in tests/e2e, with real worker processes)."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
import sqlalchemy as sa
from qiskit_runtime_server.jobs import engine as engine_module
from qiskit_runtime_server.jobs.engine import IDLE_LOOK_SECONDS, JobEngine, _Worker
from qiskit_runtime_server.jobs.models import JobRecord, JobStatus, utcnow
from qiskit_runtime_server.jobs.sessions import SessionService
from qiskit_runtime_server.jobs.sql_store import SqlJobStore
from qiskit_runtime_server.jobs.worker import Assignment
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.settings import Settings


def engine(store: SqlJobStore, **settings: object) -> JobEngine:
    plugins = PluginHost.load(entry_points=False, plugin_paths=["qrs_test_plugins.testkit"])
    return JobEngine(store, SessionService(store, 60), plugins, Settings(**settings))


def busy_worker(engine: JobEngine) -> _Worker:
    worker = _Worker(executor="testkit", process=mock.Mock(), conn=mock.Mock())
    worker.job = mock.Mock(spec=JobRecord)
    engine._pools["testkit"].workers.append(worker)
    return worker


@pytest.mark.parametrize("cpus", [1, 2, 8])
def test_each_job_owns_its_workers_core_and_is_offered_the_idle_ones(
    store: SqlJobStore, cpus: int
) -> None:
    with mock.patch.object(engine_module, "usable_cpus", return_value=cpus):
        jobs = engine(store)  # as many workers as cores
        assert jobs._threads_for(busy_worker(jobs), more_queued=False) == (1, cpus - 1)
        # The first job was offered every idle core: none is left for the second.
        assert jobs._threads_for(busy_worker(jobs), more_queued=False) == (1, 0)


def test_no_core_is_offered_while_jobs_wait_for_a_worker(store: SqlJobStore) -> None:
    with mock.patch.object(engine_module, "usable_cpus", return_value=8):
        jobs = engine(store)
        assert jobs._threads_for(busy_worker(jobs), more_queued=True) == (1, 0)
        assert jobs._threads_for(busy_worker(jobs), more_queued=False) == (1, 6)


def test_a_finished_jobs_cores_are_idle_again(store: SqlJobStore) -> None:
    with mock.patch.object(engine_module, "usable_cpus", return_value=8):
        jobs = engine(store)
        first = busy_worker(jobs)
        assert jobs._threads_for(first, more_queued=False) == (1, 7)
        first.job = None
        assert jobs._threads_for(busy_worker(jobs), more_queued=False) == (1, 7)


def test_fewer_workers_own_more_cores_each(store: SqlJobStore) -> None:
    with mock.patch.object(engine_module, "usable_cpus", return_value=8):
        jobs = engine(store, workers=2)
        assert jobs._threads_for(busy_worker(jobs), more_queued=False) == (4, 4)
        assert jobs._threads_for(busy_worker(jobs), more_queued=False) == (4, 0)


def test_job_threads_fixes_the_share(store: SqlJobStore) -> None:
    with mock.patch.object(engine_module, "usable_cpus", return_value=8):
        jobs = engine(store, job_threads=2)
        assert jobs._threads_for(busy_worker(jobs), more_queued=True) == (2, 0)
        assert jobs._threads_for(busy_worker(jobs), more_queued=False) == (2, 4)


def idle_worker(engine: JobEngine) -> _Worker:
    worker = _Worker(executor="testkit", process=mock.Mock(pid=1), conn=mock.Mock(), ready=True)
    engine._pools["testkit"].workers.append(worker)
    return worker


def queued(store: SqlJobStore, job_id: str, seconds_ago: float) -> None:
    record = JobRecord(
        id=job_id, instance="i", program_id="sampler", backend="ideal_simulator@testkit",
        executor="testkit", created=utcnow() - timedelta(seconds=seconds_ago),
    )  # fmt: skip
    store.add_job(record, "{}")


def sent_job(worker: _Worker) -> str:
    assignment: Assignment = worker.conn.send.call_args.args[0]
    return assignment.job_id


def test_a_finished_job_makes_room_for_the_next_queued_one(store: SqlJobStore) -> None:
    jobs = engine(store)
    jobs._pending.clear()
    worker = idle_worker(jobs)
    queued(store, "first", 20)
    queued(store, "second", 10)
    jobs.notify("testkit")
    jobs._dispatch()
    assert sent_job(worker) == "first"
    assert jobs._pending == {"testkit"}  # a job is left and no worker is free
    jobs._finish(worker, "first", JobStatus.COMPLETED, 0.1, [])
    jobs._dispatch()
    assert sent_job(worker) == "second"
    assert jobs._pending == set()  # that was the last one: no more looks at an empty queue
    jobs._finish(worker, "second", JobStatus.COMPLETED, 0.1, [])
    jobs._dispatch()
    assert worker.conn.send.call_count == 2


def test_idle_workers_look_at_the_queue_every_second(store: SqlJobStore) -> None:
    """A job no submission announced (another server's, say) starts within a second."""
    jobs = engine(store)
    jobs._pending.clear()
    worker = idle_worker(jobs)
    queued(store, "unannounced", 5)
    jobs._dispatch()
    worker.conn.send.assert_not_called()
    jobs._last_idle_look = time.monotonic() - IDLE_LOOK_SECONDS
    jobs._sweep()
    jobs._dispatch()
    assert sent_job(worker) == "unannounced"


def test_a_failed_look_at_the_queue_is_tried_again(store: SqlJobStore) -> None:
    jobs = engine(store)
    jobs._pending.clear()
    worker = idle_worker(jobs)
    queued(store, "a", 5)
    jobs.notify("testkit")
    with (
        mock.patch.object(store, "claim_next", side_effect=sa.exc.OperationalError("", {}, None)),
        pytest.raises(sa.exc.OperationalError),
    ):
        jobs._dispatch()
    assert jobs._pending == {"testkit"}
    jobs._dispatch()
    assert sent_job(worker) == "a"
