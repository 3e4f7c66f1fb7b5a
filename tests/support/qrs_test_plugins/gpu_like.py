"""The ``gpulike`` executor: the testkit's exact sampling, on a "GPU" that only some hosts have.

It is available where ``QRS_TEST_GPU_LIKE=1`` is set (the GPU node of the tests' Ray cluster
sets it for its processes) and asks for one GPU per worker, as custatevec does: it shows jobs
routed by executor and by resource to the one node that can run them, and its backends
available, with the nodes' width, through an API server on a host without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from qiskit.primitives import PrimitiveResult
from qiskit_runtime_server import Availability, ExecutionTask, ExecutorInfo, hookimpl

from . import testkit


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    available = os.environ.get("QRS_TEST_GPU_LIKE") == "1"
    return [
        ExecutorInfo(
            name="gpulike",
            version="0",
            device="GPU",
            programs=frozenset({"sampler"}),
            simulates_noise=False,
            # As custatevec's without a GPU: the API host's own limit would refuse every job.
            max_qubits=8 if available else 1,
            honoured_options=frozenset({"simulator.seed_simulator"}),
            # One worker per "device", as custatevec declares (QRS_TEST_GPU_LIKE_DEVICES).
            workers=int(os.environ.get("QRS_TEST_GPU_LIKE_DEVICES", "1")),
            availability=Availability.ok()
            if available
            else Availability.unavailable("no GPU-like device on this host (QRS_TEST_GPU_LIKE)"),
        )
    ]


@hookimpl
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult:
    task.log(f"INFO gpulike: on host pid {os.getpid()}")
    return testkit.qiskit_runtime_execute(task)
