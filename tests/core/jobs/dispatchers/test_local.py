"""The local dispatcher's CPU threads per job, and its GPU pools' sizes and spare worker (its
worker processes run in tests/e2e)."""

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


def gpu_local(monkeypatch: pytest.MonkeyPatch, devices: int, **settings: object) -> LocalDispatcher:
    monkeypatch.setenv("QRS_TEST_GPU_LIKE", "1")
    monkeypatch.setenv("QRS_TEST_GPU_LIKE_DEVICES", str(devices))
    plugins = PluginHost.load(entry_points=False, plugin_paths=["qrs_test_plugins.gpu_like"])
    return LocalDispatcher(plugins, Settings(**settings))


def test_a_gpu_pool_has_a_worker_per_declared_device_and_a_spare(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = gpu_local(monkeypatch, 3)._pools["gpulike"]
    assert (pool.size, pool.spare) == (3, 1)
    pool = gpu_local(monkeypatch, 3, executor_workers={"gpulike": 1})._pools["gpulike"]
    assert (pool.size, pool.spare) == (1, 1)
    pool = gpu_local(monkeypatch, 2, prestart_workers=False)._pools["gpulike"]
    assert (pool.size, pool.spare) == (2, 0)


def test_the_spare_takes_a_job_only_once_a_worker_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One device: the spare, started ahead, is kept back while the worker lives (two jobs
    would share the device), takes the next job at once after the worker is stopped (a
    cancel), and another spare starts at once."""
    jobs = gpu_local(monkeypatch, 1)
    pool = jobs._pools["gpulike"]
    first, spare = (Worker(executor="gpulike", label=name, ready=True) for name in "ab")
    for worker in (first, spare):
        pool.processes.append(_Process(worker, mock.Mock(), mock.Mock()))
    assert jobs.idle("gpulike") is first
    first.job = mock.Mock(spec=JobRecord)
    assert jobs.idle("gpulike") is None
    assert not jobs.can_grow("gpulike")
    started = Worker(executor="gpulike", label="c")

    def spawn(into: object) -> None:
        pool.processes.append(_Process(started, mock.Mock(), mock.Mock()))

    with mock.patch.object(jobs, "_spawn", side_effect=spawn) as spawned:
        jobs.stop(first)
        spawned.assert_called_once_with(pool)
    assert jobs.idle("gpulike") is spare
    spare.job = mock.Mock(spec=JobRecord)
    started.ready = True
    assert jobs.idle("gpulike") is None  # the new spare is kept back in turn
