"""The job engine's CPU threads per job, its looks at the queue and its sharing of the database
with other servers' engines, with stand-in workers (the rest of the engine runs in tests/e2e,
with real worker processes)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from unittest import mock

import pytest
import sqlalchemy as sa
from qiskit_runtime_server.jobs import engine as engine_module
from qiskit_runtime_server.jobs.engine import IDLE_LOOK_SECONDS, JobEngine, _Worker
from qiskit_runtime_server.jobs.liveness import Heartbeats, this_engine
from qiskit_runtime_server.jobs.models import EngineRecord, JobRecord, JobStatus, utcnow
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


def test_an_executor_without_workers_looks_at_the_queue_too(store: SqlJobStore) -> None:
    """Its workers were killed (cancelled jobs): a job submitted through another server still
    gets one started."""
    jobs = engine(store)
    jobs._pending.clear()
    pool = jobs._pools["testkit"]

    def spawn(pool: object) -> None:
        jobs._pools["testkit"].workers.append(_Worker("testkit", mock.Mock(), mock.Mock()))

    with mock.patch.object(jobs, "_spawn", side_effect=spawn) as spawned:
        jobs._last_idle_look = time.monotonic() - IDLE_LOOK_SECONDS
        jobs._sweep()
        jobs._dispatch()
        spawned.assert_not_called()  # nothing queued: no worker started for nothing
        assert jobs._pending == set()
        queued(store, "unannounced", 5)
        jobs._last_idle_look = time.monotonic() - IDLE_LOOK_SECONDS
        jobs._sweep()
        jobs._dispatch()
    assert spawned.call_count == pool.size
    assert jobs._pending == {"testkit"}  # until a worker is ready


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


# -- several servers on one database --------------------------------------------------------------


def running(store: SqlJobStore, job_id: str, engine_id: str | None) -> None:
    record = JobRecord(
        id=job_id, instance="i", program_id="sampler", backend="ideal_simulator@testkit",
        executor="testkit", status=JobStatus.RUNNING, attempts=1, engine_id=engine_id,
    )  # fmt: skip
    store.add_job(record, "{}")


def elsewhere(engine_id: str, executors: tuple[str, ...] = ("testkit",)) -> EngineRecord:
    """An engine on another host: only its heartbeat tells whether it is alive."""
    return EngineRecord(engine_id, "another-host", "another-boot", 1, "1", list(executors))


def started(store: SqlJobStore) -> JobEngine:
    jobs = engine(store)
    store.register_engine(jobs.record)
    jobs.recover()
    return jobs


def running_here(store: SqlJobStore, job_id: str) -> tuple[JobEngine, _Worker]:
    """A started engine whose stand-in worker runs ``job_id``."""
    jobs = started(store)
    queued(store, job_id, 1)
    worker = idle_worker(jobs)
    jobs._dispatch()
    assert sent_job(worker) == job_id
    return jobs, worker


def status_of(store: SqlJobStore, job_id: str) -> JobStatus:
    return store.job_states([job_id])[job_id].status


def test_jobs_of_a_live_engine_elsewhere_keep_running_until_its_heartbeat_stops(
    store: SqlJobStore,
) -> None:
    store.register_engine(elsewhere("other"))
    running(store, "theirs", "other")
    jobs = started(store)
    jobs._heartbeats = Heartbeats(gone_after=0.0)
    jobs.recover(starting=False)  # first sight of its count
    assert status_of(store, "theirs") == JobStatus.RUNNING
    assert store.beat("other")
    jobs.recover(starting=False)  # it changed: alive
    assert status_of(store, "theirs") == JobStatus.RUNNING
    jobs.recover(starting=False)  # unchanged since: gone
    assert status_of(store, "theirs") == JobStatus.QUEUED
    assert "queued again" in store.job_logs("theirs")[-1]
    assert [e.id for e in store.engines()] == [jobs.record.id]
    assert jobs._pending == {"testkit"}


def test_jobs_of_an_ended_engine_process_on_this_host_run_again_at_once(
    store: SqlJobStore,
) -> None:
    me = this_engine(["testkit"])
    ended = replace(me, id="ended", pid_started="not the process's start time")
    store.register_engine(ended)
    running(store, "a", "ended")
    running(store, "b", "stopped cleanly")  # its engine unregistered itself
    running(store, "c", None)  # from before engines were recorded
    started(store)
    assert {s.status for s in store.job_states(["a", "b", "c"]).values()} == {JobStatus.QUEUED}
    assert "ended" not in {e.id for e in store.engines()}


def test_a_job_only_another_engine_can_run_waits_for_it(store: SqlJobStore) -> None:
    """A CPU server leaves GPU jobs queued while the GPU server lives, and while it restarts;
    only a server starting with no engine to run them fails them (an executor uninstalled)."""
    store.register_engine(elsewhere("gpu", ("custatevec",)))
    queued_there = JobRecord(
        id="gpu-job", instance="i", program_id="sampler", backend="fake_manila@custatevec",
        executor="custatevec",
    )  # fmt: skip
    store.add_job(queued_there, "{}")
    jobs = started(store)
    assert status_of(store, "gpu-job") == JobStatus.QUEUED
    jobs._heartbeats = Heartbeats(gone_after=0.0)
    jobs.recover(starting=False)
    jobs.recover(starting=False)  # its heartbeat stopped: it is forgotten, the job waits
    assert store.engines() == [jobs.record]
    assert status_of(store, "gpu-job") == JobStatus.QUEUED
    started(store)  # no registered engine runs custatevec
    assert status_of(store, "gpu-job") == JobStatus.FAILED


def test_a_broken_executor_leaves_queued_jobs_to_another_server(store: SqlJobStore) -> None:
    jobs = started(store)
    queued(store, "a", 1)
    pool = jobs._pools["testkit"]
    pool.broken = "no GPU driver"
    store.register_engine(elsewhere("healthy"))
    jobs._fail_queued(pool)
    assert status_of(store, "a") == JobStatus.QUEUED
    jobs._pending.clear()
    jobs._last_idle_look = 0.0
    jobs._sweep()
    assert "testkit" not in jobs._pending  # no look every second at a broken executor
    store.forget_engine("healthy")
    jobs._fail_queued(pool)
    assert status_of(store, "a") == JobStatus.FAILED


def test_a_running_job_from_before_engines_were_recorded_is_taken_once(
    store: SqlJobStore,
) -> None:
    running(store, "old", None)
    first, second = engine(store), engine(store)
    store.register_engine(first.record)
    store.register_engine(second.record)
    stale_view = store.jobs_in_status(JobStatus.RUNNING)
    first.recover()
    assert store.claim_next("testkit", running_at=utcnow(), log="x", engine_id=first.record.id)
    # The second server read the job before: its re-queue must not undo the first's claim.
    with mock.patch.object(store, "jobs_in_status", return_value=stale_view):
        second.recover(starting=False)
    state = store.job_states(["old"])["old"]
    assert (state.status, state.engine_id) == (JobStatus.RUNNING, first.record.id)


def test_a_job_this_engine_lost_track_of_runs_again(store: SqlJobStore) -> None:
    jobs = started(store)
    running(store, "orphan", jobs.record.id)  # a finish whose write failed, say
    jobs.recover(starting=False)
    assert status_of(store, "orphan") == JobStatus.QUEUED
    assert "lost track" in store.job_logs("orphan")[-1]


def test_a_job_cancelled_through_another_server_stops_within_a_look(store: SqlJobStore) -> None:
    jobs, worker = running_here(store, "a")
    jobs._stop_jobs_no_longer_ours()
    assert worker in jobs._pools["testkit"].workers  # still ours and running
    store.transition("a", {JobStatus.RUNNING}, status=JobStatus.CANCELLED)  # the other server
    jobs._stop_jobs_no_longer_ours()
    worker.process.kill.assert_called_once()
    assert worker not in jobs._pools["testkit"].workers


def test_an_engine_found_gone_keeps_its_results_off_a_job_run_again_elsewhere(
    store: SqlJobStore,
) -> None:
    jobs, worker = running_here(store, "a")
    # Another server found this engine gone and re-queued the job, which a third one took.
    store.forget_engine(jobs.record.id)
    store.transition("a", {JobStatus.RUNNING}, status=JobStatus.QUEUED)
    assert store.claim_next("testkit", running_at=utcnow(), log="again", engine_id="third")
    jobs._finish(worker, "a", JobStatus.COMPLETED, 0.1, [], result=b"late")
    state = store.job_states(["a"])["a"]
    assert (state.status, state.engine_id) == (JobStatus.RUNNING, "third")
    jobs._beat_once()  # its heartbeat finds it unregistered: it registers again
    assert jobs.record.id in {e.id for e in store.engines()}


def test_a_job_run_again_by_the_same_engine_stops_its_first_worker(store: SqlJobStore) -> None:
    jobs, first = running_here(store, "a")
    # Wrongly found gone and re-queued, then claimed again by this engine's other worker.
    store.transition("a", {JobStatus.RUNNING}, status=JobStatus.QUEUED)
    second = idle_worker(jobs)
    jobs.notify("testkit")
    jobs._dispatch()
    assert sent_job(second) == "a"
    jobs._stop_jobs_no_longer_ours()
    first.process.kill.assert_called_once()
    second.process.kill.assert_not_called()
