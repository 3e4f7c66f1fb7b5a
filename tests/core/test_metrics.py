"""The metrics' counting, on a real store: jobs through their lifecycle, the scheduler
process's events, the gauges read at a scrape, and device memory as plugins report it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from qiskit_runtime_server.database.connection import database_url, open_database
from qiskit_runtime_server.database.migrate import upgrade
from qiskit_runtime_server.jobs.models import JobRecord, JobStatus, SessionRecord, utcnow
from qiskit_runtime_server.jobs.sql_store import SqlJobStore
from qiskit_runtime_server.metrics import ScheduledEvents, ServerMetrics, device_memory
from qiskit_runtime_server.plugins import PluginHost
from qrs_test_plugins.metrics import Samples, samples_of


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlJobStore]:
    engine = open_database(database_url(tmp_path, None))
    upgrade(engine)
    sql_store = SqlJobStore(engine)
    yield sql_store
    sql_store.close()


class Plugins:
    """What the metrics read of a PluginHost: executors and their summary."""

    def __init__(self, summary: list[dict[str, Any]]) -> None:
        self.executors = {entry["name"]: None for entry in summary}
        self._summary = summary

    def summary(self) -> dict[str, Any]:
        return {"plugins": [], "executors": self._summary}


def samples(metrics: ServerMetrics) -> Samples:
    return samples_of(generate_latest(metrics.registry).decode())


def job(job_id: str, executor: str = "aer") -> JobRecord:
    return JobRecord(
        id=job_id, instance="crn:a", program_id="estimator", backend=f"x@{executor}",
        executor=executor, created=utcnow() - timedelta(seconds=2),
    )  # fmt: skip


def build(store: SqlJobStore, alive: Mapping[str, int] | None = None) -> ServerMetrics:
    plugins: Any = Plugins([{"name": "aer"}, {"name": "gpu", "device_memory": {"used": 5}}])
    metrics = ServerMetrics(store, plugins, lambda: alive or {})
    store.listen(metrics)
    return metrics


def test_the_api_counts_submissions_and_cancellations(store: SqlJobStore) -> None:
    metrics = build(store)
    store.add_job(job("j1"), "{}")
    store.add_job(job("j2"), "{}")
    store.transition("j1", {JobStatus.QUEUED}, status=JobStatus.CANCELLED, finished_at=utcnow())
    store.transition("j1", {JobStatus.QUEUED}, status=JobStatus.CANCELLED)  # no longer queued
    got = samples(metrics)
    labels = {("program", "estimator"), ("executor", "aer")}
    assert got[("qrs_jobs_submitted_total", frozenset(labels))] == 2
    cancelled = frozenset(labels | {("status", "Cancelled")})
    assert got[("qrs_jobs_finished_total", cancelled)] == 1
    # It never ran: no run time.
    assert ("qrs_job_run_seconds_count", cancelled) not in got
    assert got[("qrs_jobs_queued", frozenset({("executor", "aer")}))] == 1
    assert got[("qrs_jobs_running", frozenset({("executor", "aer")}))] == 0


def test_the_scheduler_process_events_count_starts_runs_and_workers(store: SqlJobStore) -> None:
    metrics = build(store, alive={"aer": 3})
    sent: list[tuple[Any, ...]] = []
    scheduler_store = SqlJobStore(store.engine)  # the scheduler process's own store
    scheduler_store.listen(ScheduledEvents(sent.append))
    store.add_job(job("j1"), "{}")
    claim = scheduler_store.claim_next("aer", running_at=utcnow(), log="started", scheduler_id="s")
    assert claim is not None
    scheduler_store.transition(
        "j1", {JobStatus.RUNNING}, status=JobStatus.COMPLETED, usage_seconds=1.5,
        finished_at=utcnow(),
    )  # fmt: skip
    assert [event[0] for event in sent] == ["started", "finished"]
    assert 1.5 < sent[0][2] < 60  # queue wait: from creation to the claim
    for event in [*sent, ("worker_ended", "aer", 2), ("database_error", "OperationalError")]:
        metrics.apply(event)
    got = samples(metrics)
    completed = frozenset({("program", "estimator"), ("executor", "aer"), ("status", "Completed")})
    assert got[("qrs_jobs_finished_total", completed)] == 1
    assert got[("qrs_job_run_seconds_sum", completed)] == 1.5
    assert got[("qrs_job_queue_wait_seconds_count", frozenset({("executor", "aer")}))] == 1
    assert got[("qrs_worker_restarts_total", frozenset({("executor", "aer")}))] == 2
    assert got[("qrs_workers_alive", frozenset({("executor", "aer")}))] == 3
    assert got[("qrs_workers_alive", frozenset({("executor", "gpu")}))] == 0
    errors = frozenset({("process", "scheduler"), ("error", "OperationalError")})
    assert got[("qrs_database_errors_total", errors)] == 1


def test_sessions_are_counted_by_state(store: SqlJobStore) -> None:
    metrics = build(store)
    for number, state in enumerate(["active", "active", "closed"]):
        store.add_session(
            SessionRecord(f"s{number}", "crn:a", "batch", "x@aer", 60, 60, state=state)  # type: ignore[arg-type]
        )
    got = samples(metrics)
    assert got[("qrs_sessions", frozenset({("state", "active")}))] == 2
    assert got[("qrs_sessions", frozenset({("state", "closed")}))] == 1
    assert got[("qrs_sessions", frozenset({("state", "open")}))] == 0


def test_device_memory_is_what_plugins_report(store: SqlJobStore) -> None:
    plugins: Any = Plugins(
        [
            {"name": "aer"},
            {"name": "gpu", "device_memory": {"used_bytes": 7, "free_bytes": 9, "total": 16}},
            {"name": "odd", "device_memory": "not a mapping"},
        ]
    )
    assert device_memory(plugins) == {"gpu": {"used": 7, "free": 9, "total": 16}}
    got = samples(build(store))
    assert got[("qrs_device_memory_bytes", frozenset({("executor", "gpu"), ("kind", "used")}))] == 5


def test_cpu_executors_and_unavailable_ones_report_no_device_memory() -> None:
    """On the installed plugins: nothing from CPU executors, nor from a GPU executor without
    its GPU (on a GPU host, custatevec reports its devices: that is not a failure)."""
    host = PluginHost.load()
    reported = set(device_memory(host))
    silent = {
        name
        for name, executor in host.executors.items()
        if executor.info.device == "CPU" or not executor.info.availability.available
    }
    assert {"aer", "reference"} <= silent
    assert not reported & silent
