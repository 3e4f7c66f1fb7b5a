"""The GPU code path's devices and memory, on the stand-in CuPy, bindings and NVML
(tests/support/standin_custatevec.py): which devices the probe finds and that it keeps no CUDA
context, one worker per device each bound to its own, the device memory given back after a job,
and the memory report of ``/-/plugins``."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest
import standin_custatevec as standin
from qiskit import QuantumCircuit
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.testing import run_job
from qiskit_runtime_server_custatevec import plugin
from qiskit_runtime_server_custatevec.device import claim_device, probe_gpu
from qiskit_runtime_server_custatevec.executor import describe, device_memory, make_kernel
from qiskit_runtime_server_custatevec.numpy_kernel import NumpyKernel
from qiskit_runtime_server_custatevec.primitives import StatevectorPrimitives
from qiskit_runtime_server_custatevec.settings import Settings


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[standin._Memory]:
    """The stand-in modules installed as ``cupy``, ``cuquantum.bindings.custatevec`` and
    ``pynvml``, with fresh device memory; the probe's cache is cleared around the test."""
    fresh = standin._Memory()
    monkeypatch.setattr(standin, "MEMORY", fresh)
    monkeypatch.setitem(sys.modules, "cupy", standin.cupy)
    monkeypatch.setitem(sys.modules, "cuquantum", SimpleNamespace())
    monkeypatch.setitem(sys.modules, "cuquantum.bindings", SimpleNamespace(custatevec=standin))
    monkeypatch.setitem(sys.modules, "pynvml", standin.nvml)
    for name in ("QRS_CUSTATEVEC_KERNEL", "QRS_CUSTATEVEC_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(plugin, "_primitives", None)
    standin.REGISTRY.device = 0
    probe_gpu.cache_clear()
    yield fresh
    probe_gpu.cache_clear()
    standin.REGISTRY.device = 0


def bell(n: int = 2) -> QuantumCircuit:
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    circuit.measure_all()
    return circuit


def test_the_probe_finds_every_device_and_keeps_no_context(memory: standin._Memory) -> None:
    memory.device_count = 3
    probe = probe_gpu(())
    assert probe.available, probe.reason
    assert [d.index for d in probe.devices] == [0, 1, 2]
    assert len({d.pci_bus_id for d in probe.devices}) == 3
    assert probe.devices[2].name == "Stand-in GPU 2"
    # The API and scheduler processes probe too: none of them may keep a context (device
    # memory) for its life. Device 0 is current again after the others were probed.
    assert memory.contexts == set()
    assert [d.index for d in probe_gpu((0, 2)).devices] == [0, 2]
    assert memory.contexts == set()
    missing = probe_gpu((3,))
    assert not missing.available
    assert "QRS_CUSTATEVEC_DEVICES names [3]" in (missing.reason or "")


def test_one_worker_per_visible_device_by_default(
    memory: standin._Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory.device_count = 2
    info = describe()
    assert info.availability.available
    assert info.device == "GPU"
    assert info.workers == 2
    assert "2 device(s)" in info.description
    probe_gpu.cache_clear()
    monkeypatch.setenv("QRS_CUSTATEVEC_DEVICES", "1")
    assert describe().workers == 1


def test_each_worker_claims_a_device_of_its_own(memory: standin._Memory) -> None:
    """Workers claim devices in order; a claim ends with its holder (a killed worker's device
    is free for its replacement); workers beyond the devices share them."""
    memory.device_count = 2
    devices = probe_gpu(()).devices
    first, second = claim_device(devices), claim_device(devices)
    assert (first.device.index, second.device.index) == (0, 1)
    assert first.exclusive
    assert second.exclusive
    third = claim_device(devices)
    assert not third.exclusive
    first.release()  # as when its worker process dies
    replacement = claim_device(devices)
    assert replacement.device.index == 0
    assert replacement.exclusive
    for claim in (second, replacement):
        claim.release()


def test_each_kernel_runs_on_its_own_device(memory: standin._Memory) -> None:
    """Two workers' kernels: each one's handle, statevectors and matrices are on its device
    (the stand-in refuses a statevector of another device than the handle's), and both give
    the NumPy reference kernel's samples."""
    memory.device_count = 2
    settings = Settings()
    kernels = [make_kernel(settings), make_kernel(settings)]
    assert [k.location for k in kernels] == [
        f"CUDA device {i} (PCI {standin.pci_bus_id(i)})" for i in (0, 1)
    ]
    pub = SamplerPub.coerce((bell(4), None, 300))
    expected = StatevectorPrimitives(NumpyKernel(), settings).sample(pub, np.random.default_rng(5))
    for index, kernel in enumerate(kernels):
        got = StatevectorPrimitives(kernel, settings).sample(pub, np.random.default_rng(5))
        assert got.data.meas.get_counts() == expected.data.meas.get_counts()
        assert memory.cached.get(index, 0) > 0  # its pool on its own device held the job
        assert standin.REGISTRY.handles[kernel.handle]["device"] == index
    for kernel in kernels:
        kernel.close()
        kernel.claim.release()  # type: ignore[attr-defined]


def test_a_job_gives_the_device_memory_back(memory: standin._Memory) -> None:
    """After a job the worker holds its CUDA context and nothing else: CuPy's pool gave the
    statevectors' blocks back. The memory report (NVML, no context of its own) says so."""
    result = run_job(PluginHost.load(), "sampler", "ideal_simulator@custatevec", [bell(10)])
    assert set(result[0].data.meas.get_counts()) == {"0" * 10, "1" * 10}
    assert result.metadata["simulator"]["device"].startswith("CUDA device 0")
    gc.collect()
    assert memory.used.get(0, 0) == 0
    assert memory.cached.get(0, 0) == 0
    assert memory.contexts == {0}
    report = device_memory()
    assert report is not None
    assert report["used_bytes"] == standin._Memory.CONTEXT_BYTES
    assert report["free_bytes"] == standin._Memory.TOTAL_BYTES - standin._Memory.CONTEXT_BYTES
    primitives = plugin._primitives
    assert primitives is not None
    primitives.kernel.claim.release()  # type: ignore[attr-defined]


def test_plugins_report_each_devices_memory(memory: standin._Memory) -> None:
    memory.device_count = 2
    summary = PluginHost.load().summary()
    entry = next(e for e in summary["executors"] if e["name"] == "custatevec")
    reported = entry["device_memory"]
    assert [d["pci_bus_id"] for d in reported["devices"]] == [standin.pci_bus_id(i) for i in (0, 1)]
    assert reported["total_bytes"] == 2 * standin._Memory.TOTAL_BYTES
    assert reported["used_bytes"] + reported["free_bytes"] == reported["total_bytes"]
    aer = next(e for e in summary["executors"] if e["name"] == "aer")
    assert aer["device_memory"] is None


def test_no_memory_report_on_the_numpy_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRS_CUSTATEVEC_KERNEL", "numpy")
    assert device_memory() is None
