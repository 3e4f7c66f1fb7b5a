"""The job engine's share of CPU threads per job (the rest of the engine runs in tests/e2e,
with real worker processes)."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from qiskit_runtime_server.jobs.engine import JobEngine, _Worker
from qiskit_runtime_server.jobs.models import JobRecord
from qiskit_runtime_server.jobs.sessions import SessionService
from qiskit_runtime_server.jobs.sql_store import SqlJobStore
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
def test_cpus_are_shared_among_the_jobs_running(store: SqlJobStore, cpus: int) -> None:
    jobs = engine(store)
    with mock.patch.object(os, "cpu_count", return_value=cpus):
        assert jobs._threads_for(busy_worker(jobs)) == cpus
        assert jobs._threads_for(busy_worker(jobs)) == max(1, cpus // 2)
        assert jobs._threads_for(busy_worker(jobs)) == max(1, cpus // 3)


def test_job_threads_fixes_the_share(store: SqlJobStore) -> None:
    jobs = engine(store, job_threads=1)
    with mock.patch.object(os, "cpu_count", return_value=8):
        assert jobs._threads_for(busy_worker(jobs)) == 1
        assert jobs._threads_for(busy_worker(jobs)) == 1
