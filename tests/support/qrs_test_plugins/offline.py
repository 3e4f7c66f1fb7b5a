"""An executor that is installed but cannot run here (like a GPU executor on a CPU host)."""

from __future__ import annotations

from collections.abc import Sequence

from qiskit_runtime_server import Availability, ExecutorInfo, hookimpl


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    return [
        ExecutorInfo(
            name="offline",
            version="1",
            device="GPU",
            programs=frozenset({"sampler"}),
            simulates_noise=False,
            max_qubits=30,
            availability=Availability.unavailable("no CUDA device visible"),
        )
    ]
