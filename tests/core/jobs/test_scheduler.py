"""The scheduler's looks at the queue, its handling of workers' outcomes and its sharing of the
database with other servers' schedulers, through a dispatcher in memory (the local and Ray
dispatchers run real workers in tests/core/jobs/dispatchers and tests/e2e)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from unittest import mock

import pytest
import sqlalchemy as sa
from qiskit_runtime_server.jobs.dispatchers.base import Ended, Finished, Worker
from qiskit_runtime_server.jobs.liveness import Heartbeats, this_scheduler
from qiskit_runtime_server.jobs.models import JobRecord, JobStatus, SchedulerRecord, utcnow
from qiskit_runtime_server.jobs.scheduler import IDLE_LOOK_SECONDS, Scheduler
from qiskit_runtime_server.jobs.sessions import SessionService
from qiskit_runtime_server.jobs.sql_store import SqlJobStore
from qiskit_runtime_server.jobs.worker import Outcome
from qiskit_runtime_server.settings import Settings
from qrs_test_plugins.fake_dispatcher import FakeDispatcher


def scheduler(store: SqlJobStore, **settings: object) -> Scheduler:
    jobs = Scheduler(store, SessionService(store, 60), FakeDispatcher(), Settings(**settings))
    jobs._executors = ["testkit"]
    jobs._pending.add("testkit")  # as start() leaves it
    return jobs


def fake(jobs: Scheduler) -> FakeDispatcher:
    assert isinstance(jobs.dispatcher, FakeDispatcher)
    return jobs.dispatcher


def idle_worker(jobs: Scheduler) -> Worker:
    return fake(jobs).ready_worker()


def finish(jobs: Scheduler, worker: Worker, job_id: str, result: bytes = b"r") -> None:
    jobs._handle(Finished(worker, Outcome(job_id, 0.1, [], result=result)))


def sent_job(jobs: Scheduler, worker: Worker) -> str:
    return fake(jobs).sent_to(worker)[-1]


def queued(store: SqlJobStore, job_id: str, seconds_ago: float) -> None:
    record = JobRecord(
        id=job_id, instance="i", program_id="sampler", backend="ideal_simulator@testkit",
        executor="testkit", created=utcnow() - timedelta(seconds=seconds_ago),
    )  # fmt: skip
    store.add_job(record, "{}")


def test_a_finished_job_makes_room_for_the_next_queued_one(store: SqlJobStore) -> None:
    jobs = scheduler(store)
    jobs._pending.clear()
    worker = idle_worker(jobs)
    queued(store, "first", 20)
    queued(store, "second", 10)
    jobs.notify("testkit")
    jobs._dispatch()
    assert sent_job(jobs, worker) == "first"
    assert jobs._pending == {"testkit"}  # a job is left and no worker is free
    finish(jobs, worker, "first")
    jobs._dispatch()
    assert sent_job(jobs, worker) == "second"
    assert jobs._pending == set()  # that was the last one: no more looks at an empty queue
    finish(jobs, worker, "second")
    jobs._dispatch()
    assert fake(jobs).sent_to(worker) == ["first", "second"]
    assert status_of(store, "first") == JobStatus.COMPLETED


def test_idle_workers_look_at_the_queue_every_second(store: SqlJobStore) -> None:
    """A job no submission announced (another server's, say) starts within a second."""
    jobs = scheduler(store)
    jobs._pending.clear()
    worker = idle_worker(jobs)
    queued(store, "unannounced", 5)
    jobs._dispatch()
    assert fake(jobs).sent == []
    jobs._last_idle_look = time.monotonic() - IDLE_LOOK_SECONDS
    jobs._sweep()
    jobs._dispatch()
    assert sent_job(jobs, worker) == "unannounced"


def test_an_executor_without_workers_looks_at_the_queue_too(store: SqlJobStore) -> None:
    """Its workers were killed (cancelled jobs): a job submitted through another server still
    gets one started."""
    jobs = scheduler(store)
    jobs._pending.clear()
    jobs._last_idle_look = time.monotonic() - IDLE_LOOK_SECONDS
    jobs._sweep()
    jobs._dispatch()
    assert fake(jobs).grown == []  # nothing queued: no worker started for nothing
    assert jobs._pending == set()
    queued(store, "unannounced", 5)
    jobs._last_idle_look = time.monotonic() - IDLE_LOOK_SECONDS
    jobs._sweep()
    jobs._dispatch()
    assert fake(jobs).grown == ["testkit", "testkit"]  # the pool's size
    assert jobs._pending == {"testkit"}  # until a worker is ready


def test_a_failed_look_at_the_queue_is_tried_again(store: SqlJobStore) -> None:
    jobs = scheduler(store)
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
    assert sent_job(jobs, worker) == "a"


# -- several servers on one database --------------------------------------------------------------


def running(store: SqlJobStore, job_id: str, scheduler_id: str | None) -> None:
    record = JobRecord(
        id=job_id, instance="i", program_id="sampler", backend="ideal_simulator@testkit",
        executor="testkit", status=JobStatus.RUNNING, attempts=1, scheduler_id=scheduler_id,
    )  # fmt: skip
    store.add_job(record, "{}")


def elsewhere(scheduler_id: str, executors: tuple[str, ...] = ("testkit",)) -> SchedulerRecord:
    """A scheduler on another host: only its heartbeat tells whether it is alive."""
    return SchedulerRecord(scheduler_id, "another-host", "another-boot", 1, "1", list(executors))


def started(store: SqlJobStore) -> Scheduler:
    jobs = scheduler(store)
    jobs.record.executors[:] = ["testkit"]
    store.register_scheduler(jobs.record)
    jobs.recovery.recover()
    return jobs


def running_here(store: SqlJobStore, job_id: str) -> tuple[Scheduler, Worker]:
    """A started scheduler whose stand-in worker runs ``job_id``."""
    jobs = started(store)
    queued(store, job_id, 1)
    worker = idle_worker(jobs)
    jobs._dispatch()
    assert sent_job(jobs, worker) == job_id
    return jobs, worker


def status_of(store: SqlJobStore, job_id: str) -> JobStatus:
    return store.job_states([job_id])[job_id].status


def test_jobs_of_a_live_scheduler_elsewhere_keep_running_until_its_heartbeat_stops(
    store: SqlJobStore,
) -> None:
    store.register_scheduler(elsewhere("other"))
    running(store, "theirs", "other")
    jobs = started(store)
    jobs.recovery._heartbeats = Heartbeats(gone_after=0.0)
    jobs.recovery.recover(starting=False)  # first sight of its count
    assert status_of(store, "theirs") == JobStatus.RUNNING
    assert store.beat("other")
    jobs.recovery.recover(starting=False)  # it changed: alive
    assert status_of(store, "theirs") == JobStatus.RUNNING
    jobs.recovery.recover(starting=False)  # unchanged since: gone
    assert status_of(store, "theirs") == JobStatus.QUEUED
    assert "queued again" in store.job_logs("theirs")[-1]
    assert [e.id for e in store.schedulers()] == [jobs.record.id]
    assert jobs._pending == {"testkit"}


def test_jobs_of_an_ended_scheduler_process_on_this_host_run_again_at_once(
    store: SqlJobStore,
) -> None:
    me = this_scheduler(["testkit"])
    ended = replace(me, id="ended", pid_started="not the process's start time")
    store.register_scheduler(ended)
    running(store, "a", "ended")
    running(store, "b", "stopped cleanly")  # its scheduler unregistered itself
    running(store, "c", None)  # from before schedulers were recorded
    started(store)
    assert {s.status for s in store.job_states(["a", "b", "c"]).values()} == {JobStatus.QUEUED}
    assert "ended" not in {e.id for e in store.schedulers()}


def test_a_job_only_another_scheduler_can_run_waits_for_it(store: SqlJobStore) -> None:
    """A CPU server leaves GPU jobs queued while the GPU server lives, and while it restarts;
    only a server starting with no scheduler to run them fails them (an executor uninstalled)."""
    store.register_scheduler(elsewhere("gpu", ("custatevec",)))
    queued_there = JobRecord(
        id="gpu-job", instance="i", program_id="sampler", backend="fake_manila@custatevec",
        executor="custatevec",
    )  # fmt: skip
    store.add_job(queued_there, "{}")
    jobs = started(store)
    assert status_of(store, "gpu-job") == JobStatus.QUEUED
    jobs.recovery._heartbeats = Heartbeats(gone_after=0.0)
    jobs.recovery.recover(starting=False)
    jobs.recovery.recover(starting=False)  # its heartbeat stopped: it is forgotten, the job waits
    assert store.schedulers() == [jobs.record]
    assert status_of(store, "gpu-job") == JobStatus.QUEUED
    started(store)  # no registered scheduler runs custatevec
    assert status_of(store, "gpu-job") == JobStatus.FAILED


def test_a_broken_executor_leaves_queued_jobs_to_another_server(store: SqlJobStore) -> None:
    jobs = started(store)
    queued(store, "a", 1)
    fake(jobs).broken_because["testkit"] = "no GPU driver"
    store.register_scheduler(elsewhere("healthy"))
    jobs._dispatch_executor("testkit")
    assert status_of(store, "a") == JobStatus.QUEUED
    jobs._pending.clear()
    jobs._last_idle_look = 0.0
    jobs._sweep()
    assert "testkit" not in jobs._pending  # no look every second at a broken executor
    store.forget_scheduler("healthy")
    jobs._dispatch_executor("testkit")
    assert status_of(store, "a") == JobStatus.FAILED
    assert "no GPU driver" in (store.get_job("a").reason or "")  # type: ignore[union-attr]


def test_a_running_job_from_before_schedulers_were_recorded_is_taken_once(
    store: SqlJobStore,
) -> None:
    running(store, "old", None)
    first, second = scheduler(store), scheduler(store)
    store.register_scheduler(first.record)
    store.register_scheduler(second.record)
    stale_view = store.jobs_in_status(JobStatus.RUNNING)
    first.recovery.recover()
    assert store.claim_next("testkit", running_at=utcnow(), log="x", scheduler_id=first.record.id)
    # The second server read the job before: its re-queue must not undo the first's claim.
    with mock.patch.object(store, "jobs_in_status", return_value=stale_view):
        second.recovery.recover(starting=False)
    state = store.job_states(["old"])["old"]
    assert (state.status, state.scheduler_id) == (JobStatus.RUNNING, first.record.id)


def test_a_job_this_scheduler_lost_track_of_runs_again(store: SqlJobStore) -> None:
    jobs = started(store)
    running(store, "orphan", jobs.record.id)  # a finish whose write failed, say
    jobs.recovery.recover(starting=False)
    assert status_of(store, "orphan") == JobStatus.QUEUED
    assert "lost track" in store.job_logs("orphan")[-1]


def test_a_job_cancelled_through_another_server_stops_within_a_look(store: SqlJobStore) -> None:
    jobs, worker = running_here(store, "a")
    jobs._stop_jobs_no_longer_ours()
    assert fake(jobs).stopped == []  # still ours and running
    store.transition("a", {JobStatus.RUNNING}, status=JobStatus.CANCELLED)  # the other server
    jobs._stop_jobs_no_longer_ours()
    assert fake(jobs).stopped == [worker]


def test_a_scheduler_found_gone_keeps_its_results_off_a_job_run_again_elsewhere(
    store: SqlJobStore,
) -> None:
    jobs, worker = running_here(store, "a")
    # Another server found this scheduler gone and re-queued the job, which a third one took.
    store.forget_scheduler(jobs.record.id)
    store.transition("a", {JobStatus.RUNNING}, status=JobStatus.QUEUED)
    assert store.claim_next("testkit", running_at=utcnow(), log="again", scheduler_id="third")
    finish(jobs, worker, "a", result=b"late")
    state = store.job_states(["a"])["a"]
    assert (state.status, state.scheduler_id) == (JobStatus.RUNNING, "third")
    jobs.recovery._beat_once()  # its heartbeat finds it unregistered: it registers again
    assert jobs.record.id in {e.id for e in store.schedulers()}


def test_a_job_run_again_by_the_same_scheduler_stops_its_first_worker(store: SqlJobStore) -> None:
    jobs, first = running_here(store, "a")
    # Wrongly found gone and re-queued, then claimed again by this scheduler's other worker.
    store.transition("a", {JobStatus.RUNNING}, status=JobStatus.QUEUED)
    second = idle_worker(jobs)
    jobs.notify("testkit")
    jobs._dispatch()
    assert sent_job(jobs, second) == "a"
    jobs._stop_jobs_no_longer_ours()
    assert fake(jobs).stopped == [first]


def test_a_dead_worker_fails_its_job_and_a_lost_one_gives_it_back(store: SqlJobStore) -> None:
    jobs, worker = running_here(store, "crashed")
    fake(jobs).pools["testkit"].remove(worker)  # a dispatcher forgets its dead workers
    jobs._handle(Ended(worker, "the worker process running the job was killed by signal SIGSEGV"))
    assert status_of(store, "crashed") == JobStatus.FAILED
    assert "SIGSEGV" in (store.get_job("crashed").reason or "")  # type: ignore[union-attr]
    queued(store, "lost", 1)
    worker = idle_worker(jobs)  # the dead one's replacement
    jobs.notify("testkit")
    jobs._dispatch()
    assert sent_job(jobs, worker) == "lost"
    jobs._handle(Ended(worker, "the Ray node 10.0.0.7 running the job left the cluster", lost=True))
    assert status_of(store, "lost") == JobStatus.QUEUED
    assert "left the cluster; queued again" in store.job_logs("lost")[-1]
    assert jobs._pending == {"testkit"}


def test_a_job_interrupted_too_often_fails_instead_of_running_again(store: SqlJobStore) -> None:
    jobs, worker = running_here(store, "unlucky")
    store.transition("unlucky", {JobStatus.RUNNING}, attempts=3)
    assert worker.job is not None
    worker.job = replace(worker.job, attempts=3)
    jobs._handle(Ended(worker, "the Ray node 10.0.0.7 running the job left the cluster", lost=True))
    record = store.get_job("unlucky")
    assert record is not None
    assert record.status == JobStatus.FAILED
    assert "interrupted 3 times" in (record.reason or "")


def test_the_log_says_which_dispatcher_and_worker_ran_the_job(store: SqlJobStore) -> None:
    _, worker = running_here(store, "a")
    assert f"job started (fake dispatcher, {worker.label})" in store.job_logs("a")[0]


def test_an_event_that_fails_to_record_does_not_drop_the_others(store: SqlJobStore) -> None:
    jobs, first = running_here(store, "first")
    second = idle_worker(jobs)
    queued(store, "second", 1)
    jobs.notify("testkit")
    jobs._dispatch()
    assert sent_job(jobs, second) == "second"
    fake(jobs).events = [
        Finished(first, Outcome("first", 0.1, [], result=b"r")),
        Finished(second, Outcome("second", 0.1, [], result=b"r")),
    ]
    real = store.transition
    failures = iter([sa.exc.OperationalError("", {}, None)])

    def flaky(*args: object, **kwargs: object) -> object:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(store, "transition", side_effect=flaky):
        jobs._step()  # its recovery look (due at the first step) finds "first" not held
    assert status_of(store, "second") == JobStatus.COMPLETED
    assert "lost track of the job; queued again" in "".join(store.job_logs("first"))
    assert store.job_states(["first"])["first"].attempts == 2  # and it runs again


def test_a_cluster_scheduler_leaves_jobs_for_executors_no_node_offers_yet(
    store: SqlJobStore,
) -> None:
    """A Ray node may still be joining when the server starts: its executor's jobs wait."""
    queued_there = JobRecord(
        id="gpu-job", instance="i", program_id="sampler", backend="fake_manila@custatevec",
        executor="custatevec",
    )  # fmt: skip
    store.add_job(queued_there, "{}")
    cluster = FakeDispatcher()
    cluster.complete_at_start = False
    jobs = Scheduler(store, SessionService(store, 60), cluster, Settings())
    jobs.start()
    try:
        assert status_of(store, "gpu-job") == JobStatus.QUEUED
    finally:
        jobs.stop()
    started(store)  # a local scheduler knows all it will ever run
    assert status_of(store, "gpu-job") == JobStatus.FAILED
