"""The ``testkit`` executor: exact sampling, plus misbehaviour on request.

Every job logs the CPU threads the scheduler gave it (``INFO testkit: N threads``). A circuit's
``metadata["testkit"]`` selects what the worker does before sampling:

* ``"gate"``: write ``<gate dir>/started/<job id>`` and wait until ``<gate dir>/open`` exists
  (the gate directory is ``$QRS_TEST_GATE_DIR``), so a test can hold jobs running;
* ``"sleep:<seconds>"``: sleep;
* ``"segfault"``: crash the process with a segmentation fault;
* ``"exit"``: end the process at once with exit code 3;
* ``"warn:<text>"``: log ``<text>`` as a warning through Python's logging (the server's log).
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from qiskit.primitives import PrimitiveResult, StatevectorSampler
from qiskit_runtime_server import ExecutionTask, ExecutorInfo, SamplerTask, hookimpl
from qiskit_runtime_server.circuits import compact_sampler_pub


def gate_dir() -> Path:
    return Path(os.environ["QRS_TEST_GATE_DIR"])


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    return [
        ExecutorInfo(
            name="testkit",
            version="0",
            device="CPU",
            programs=frozenset({"sampler"}),
            simulates_noise=False,
            max_qubits=8,
            honoured_options=frozenset({"simulator.seed_simulator"}),
        )
    ]


def _misbehave(task: ExecutionTask, request: str) -> None:
    if request == "gate":
        directory = gate_dir()
        (directory / "started").mkdir(parents=True, exist_ok=True)
        (directory / "started" / task.job_id).touch()
        while not (directory / "open").exists():
            time.sleep(0.01)
    elif request.startswith("sleep:"):
        time.sleep(float(request.removeprefix("sleep:")))
    elif request == "segfault":
        ctypes.string_at(0)
    elif request == "exit":
        os._exit(3)
    elif request.startswith("warn:"):
        logging.getLogger(__name__).warning(request.removeprefix("warn:"))


@hookimpl
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult:
    assert isinstance(task, SamplerTask)
    task.log(f"INFO testkit: {task.threads} threads, {task.idle_threads} idle")
    for pub in task.pubs:
        request = (pub.circuit.metadata or {}).get("testkit")
        if request:
            task.log(f"INFO testkit: {request}")
            _misbehave(task, request)
    pubs = [compact_sampler_pub(pub) for pub in task.pubs]
    return StatevectorSampler(seed=task.options.seed_simulator).run(pubs).result()
