"""The local dispatcher's CPU threads per job (its worker processes run in tests/e2e)."""

from __future__ import annotations

from unittest import mock

import pytest
from qiskit_runtime_server.jobs.dispatchers import local as local_module
from qiskit_runtime_server.jobs.dispatchers.base import Worker
from qiskit_runtime_server.jobs.dispatchers.local import LocalDispatcher, _Process
from qiskit_runtime_server.jobs.models import JobRecord
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.settings import Settings


def local(**settings: object) -> LocalDispatcher:
    plugins = PluginHost.load(entry_points=False, plugin_paths=["qrs_test_plugins.testkit"])
    return LocalDispatcher(plugins, Settings(**settings))


def busy_worker(jobs: LocalDispatcher) -> Worker:
    worker = Worker(executor="testkit", label="stand-in", ready=True)
    worker.job = mock.Mock(spec=JobRecord)
    jobs._pools["testkit"].processes.append(_Process(worker, mock.Mock(), mock.Mock()))
    return worker


def offer(jobs: LocalDispatcher, worker: Worker, more_queued: bool) -> tuple[int, int]:
    busy = [w for w in jobs.workers() if w.job is not None]
    return jobs.threads(worker, busy, more_queued)


@pytest.mark.parametrize("cpus", [1, 2, 8])
def test_each_job_owns_its_workers_core_and_is_offered_the_idle_ones(cpus: int) -> None:
    with mock.patch.object(local_module, "usable_cpus", return_value=cpus):
        jobs = local()  # as many workers as cores
        assert offer(jobs, busy_worker(jobs), False) == (1, cpus - 1)
        # The first job was offered every idle core: none is left for the second.
        assert offer(jobs, busy_worker(jobs), False) == (1, 0)


def test_no_core_is_offered_while_jobs_wait_for_a_worker() -> None:
    with mock.patch.object(local_module, "usable_cpus", return_value=8):
        jobs = local()
        assert offer(jobs, busy_worker(jobs), True) == (1, 0)
        assert offer(jobs, busy_worker(jobs), False) == (1, 6)


def test_a_finished_jobs_cores_are_idle_again() -> None:
    with mock.patch.object(local_module, "usable_cpus", return_value=8):
        jobs = local()
        first = busy_worker(jobs)
        assert offer(jobs, first, False) == (1, 7)
        first.job = None
        assert offer(jobs, busy_worker(jobs), False) == (1, 7)


def test_fewer_workers_own_more_cores_each() -> None:
    with mock.patch.object(local_module, "usable_cpus", return_value=8):
        jobs = local(workers=2)
        assert offer(jobs, busy_worker(jobs), False) == (4, 4)
        assert offer(jobs, busy_worker(jobs), False) == (4, 0)


def test_job_threads_fixes_the_share() -> None:
    with mock.patch.object(local_module, "usable_cpus", return_value=8):
        jobs = local(job_threads=2)
        assert offer(jobs, busy_worker(jobs), True) == (2, 0)
        assert offer(jobs, busy_worker(jobs), False) == (2, 4)
