"""Estimator PUBs of degenerate shapes, which Qiskit's and Aer's estimators do not run.

* An empty sweep (parameter values of shape ``(0,)``, ``(2, 0, 3)``, ...): nothing to simulate;
  the result has the PUB's shape and no values, as Qiskit's reference estimator returns.
  ``BackendEstimatorV2`` (and so local testing mode) fails on such PUBs.
* A circuit without parameters swept k times (parameter values of shape ``(k, 0)``): Aer's
  EstimatorV2 runs the circuit once and then looks for k results. Its exact values are the
  same for every set, so the PUB runs with one set and observables broadcast to the PUB's
  shape, which gives every entry its own draw of the precision noise, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from qiskit.primitives import PrimitiveResult, PubResult
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit_runtime_server.results import estimator_pub_result

EMPTY_REASON = "the PUB has no parameter sets (an empty sweep): nothing to simulate"


def is_empty(pub: EstimatorPub) -> bool:
    return bool(math.prod(pub.shape) == 0)


def empty_result(pub: EstimatorPub) -> PubResult:
    """The result of an empty PUB: no values, of the PUB's shape."""
    return estimator_pub_result(
        pub, np.zeros(pub.shape), np.zeros(pub.shape),
        {
            "target_precision": pub.precision,
            "circuit_metadata": pub.circuit.metadata,
            "simulator": {"method": None, "reason": EMPTY_REASON},
        },
    )  # fmt: skip


def estimate_nonempty(
    pubs: Sequence[EstimatorPub], run: Callable[[list[EstimatorPub]], PrimitiveResult]
) -> PrimitiveResult:
    """``run`` on the PUBs that have parameter sets (in their order, so seeds are as if the
    empty ones were not there), and :func:`empty_result` for the others."""
    runnable = [pub for pub in pubs if not is_empty(pub)]
    result = run(runnable) if runnable else PrimitiveResult([], metadata={"version": 2})
    ran = iter(result)
    pub_results: list[Any] = [empty_result(pub) if is_empty(pub) else next(ran) for pub in pubs]
    return PrimitiveResult(pub_results, metadata=result.metadata)


def one_binding(pub: EstimatorPub) -> EstimatorPub:
    """A PUB whose circuit has no parameters but several parameter sets, as one set with the
    observables broadcast to the PUB's shape; any other PUB unchanged."""
    if pub.circuit.num_parameters or pub.parameter_values.size <= 1:
        return pub
    observables = pub.observables
    index = np.broadcast_to(np.arange(observables.size).reshape(observables.shape), pub.shape)
    flat = list(observables.ravel())
    array = np.empty(pub.shape, dtype=object)
    for position in np.ndindex(pub.shape):
        array[position] = flat[index[position]]
    broadcast = ObservablesArray(array, num_qubits=observables.num_qubits)
    return EstimatorPub(
        pub.circuit, broadcast, BindingsArray(shape=()), pub.precision, validate=False
    )
