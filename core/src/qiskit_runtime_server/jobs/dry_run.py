"""Dry runs: jobs on a mock backend, checked like any job, that complete without running.

IBM's dry run (``SamplerV2.run(pubs, dry_run=True)``, and the estimator's) sends the job to
the device's mock counterpart, which "performs a dry run without executing the job on a QPU":
it validates the job, and its results "preserve the expected schema but contain randomized
mock data rather than actual or simulated measurement results" (qiskit-ibm-runtime 0.51's
docstrings). Here a job on a mock backend is refused with the same 4xx as on the backend it
stands for, and otherwise stored already completed, with the result :func:`mock_result` makes:
no executor runs, no worker is taken, and it uses no executor seconds.
"""

from __future__ import annotations

import numpy as np
from qiskit.primitives import PrimitiveResult, PubResult, SamplerPubResult
from qiskit.primitives.containers import BitArray, DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from ..metadata import add_server_metadata
from ..results import conform
from ..tasks import ExecutionTask, SamplerTask
from .models import utcnow


def mock_result(task: ExecutionTask, ignored_options: list[str]) -> PrimitiveResult:
    """Random data of the shapes a run of ``task`` gives, in IBM's form, with the metadata a
    run has and ``qiskit_runtime_server.dry_run`` true. The sampler's bits are uniformly
    random; the estimator's ``evs`` are uniform within what each observable can take (the sum
    of its coefficients' magnitudes), with ``stds`` the PUB's precision. ``seed_simulator``
    makes the data repeatable."""
    rng = np.random.default_rng(task.options.seed_simulator)
    pub_results: list[PubResult]
    if isinstance(task, SamplerTask):
        pub_results = [_sampler(pub, rng) for pub in task.pubs]
    else:
        pub_results = [_estimator(pub, rng) for pub in task.pubs]
    now = utcnow()
    result = conform(PrimitiveResult(pub_results), task, now, now)
    add_server_metadata(result, task, ignored_options)
    result.metadata["qiskit_runtime_server"]["dry_run"] = True
    return result


def _sampler(pub: SamplerPub, rng: np.random.Generator) -> SamplerPubResult:
    fields: dict[str, BitArray] = {}
    for register in pub.circuit.cregs:
        num_bits = register.size
        data = rng.integers(
            0, 256, size=(*pub.shape, pub.shots or 0, (num_bits + 7) // 8), dtype=np.uint8
        )
        if num_bits % 8 and data.size:
            data[..., 0] &= (1 << (num_bits % 8)) - 1  # the first byte holds the top bits
        fields[register.name] = BitArray(data, num_bits)
    return SamplerPubResult(DataBin(**fields, shape=pub.shape), metadata={})


def _estimator(pub: EstimatorPub, rng: np.random.Generator) -> PubResult:
    observables = pub.observables
    bounds = np.array(
        [sum(abs(c) for c in terms.values()) for terms in observables.ravel().tolist()],
        dtype=np.float64,
    ).reshape(observables.shape)
    bounds = np.broadcast_to(bounds, pub.shape)
    evs = rng.uniform(-1.0, 1.0, size=pub.shape) * bounds
    stds = np.full(pub.shape, pub.precision, dtype=np.float64)
    return PubResult(DataBin(evs=evs, stds=stds, shape=pub.shape), metadata={})
