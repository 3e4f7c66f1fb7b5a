"""An exact executor on Qiskit's reference primitives: a template for plugin authors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit.primitives import PrimitiveResult, StatevectorEstimator, StatevectorSampler
from qiskit_runtime_server import ExecutionTask, ExecutorInfo, SamplerTask, hookimpl
from qiskit_runtime_server.circuits import compact_estimator_pub, compact_sampler_pub

__version__ = "1.0.0"

#: Dense statevectors: beyond this many active qubits the reference primitives are too slow.
MAX_QUBITS = 16


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    return [
        ExecutorInfo(
            name="reference",
            version=__version__,
            device="CPU",
            programs=frozenset({"sampler", "estimator"}),
            simulates_noise=False,
            max_qubits=MAX_QUBITS,
            honoured_options=frozenset({"simulator.seed_simulator", "seed_estimator"}),
            description="Exact and noiseless, on qiskit.primitives reference primitives",
            # An example is not for a newcomer's catalogue: served only when the operator
            # names it (QRS_EXECUTORS). A real plugin leaves this out.
            opt_in=True,
        )
    ]


@hookimpl
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult | None:
    seed = task.options.seed_simulator
    if isinstance(task, SamplerTask):
        # One generator for the whole job: an integer seed would restart the same random
        # stream for every parameter set, so that sets of shots would repeat each other.
        sampler = StatevectorSampler(seed=np.random.default_rng(seed))
        result = sampler.run([compact_sampler_pub(pub) for pub in task.pubs]).result()
    else:
        estimator_seed = (
            task.options.seed_estimator if task.options.seed_estimator is not None else seed
        )
        estimator = StatevectorEstimator(seed=estimator_seed)
        result = estimator.run([compact_estimator_pub(pub) for pub in task.pubs]).result()
    result.metadata["simulator"] = {"executor": "reference", "noise": "none"}
    return result
