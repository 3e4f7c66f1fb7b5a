"""A real server on loopback with every installed plugin, and a real client connected to it.

Besides the installed executors, the server has a ``gate`` executor, registered as a plugin
object: it holds each job until the test opens the gate (or cancels the job), so that tests can
observe queued and running jobs deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest
from qiskit.primitives import PrimitiveResult, StatevectorSampler
from qiskit_ibm_runtime import QiskitRuntimeService
from qiskit_runtime_server import ExecutionTask, ExecutorInfo, SamplerTask, hookimpl
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.circuits import compact_sampler_pub
from qiskit_runtime_server.client import connect
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer


class GatePlugin:
    """A sampler executor whose jobs wait for ``open_gate()`` (or for cancellation)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def open_gate(self) -> None:
        self.gate.set()

    def close_gate(self) -> None:
        self.gate.clear()

    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [
            ExecutorInfo(
                name="gate",
                version="0",
                device="CPU",
                programs=frozenset({"sampler"}),
                simulates_noise=False,
                max_qubits=8,
            )
        ]

    @hookimpl
    def qiskit_runtime_execute(self, task: ExecutionTask) -> PrimitiveResult:
        assert isinstance(task, SamplerTask)
        self.started.release()
        while not self.gate.wait(0.01):
            if task.cancelled():
                raise RuntimeError("cancelled while waiting at the gate")
        pubs = [compact_sampler_pub(pub) for pub in task.pubs]
        return StatevectorSampler(seed=task.options.seed_simulator).run(pubs).result()


@pytest.fixture(scope="session")
def gate() -> GatePlugin:
    return GatePlugin()


@pytest.fixture(scope="session")
def server(gate: GatePlugin) -> Iterator[LiveServer]:
    plugins = PluginHost.load(extra_plugins=[("gate-plugin", gate)])
    app = create_app(Settings(workers=2), plugins=plugins)
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="session")
def service(server: LiveServer) -> QiskitRuntimeService:
    return connect(server.url)
