"""Primitive results: built from raw simulator output, and brought to the form IBM returns.

IBM's sampler and estimator results (``ibm_quantum_schemas.sampler/estimator.version_0_1``,
and what ``qiskit-ibm-runtime`` reads) differ from what Qiskit's reference primitives, Aer and
local testing mode return in a few fields. :func:`conform` brings every executor's result to
IBM's form after the executor ran, so that each plugin need not know these details, and
refuses a result whose data does not fit its PUBs:

* sampler: a ``SamplerPubResult`` per PUB whose ``BitArray`` fields have the PUB's shape and
  shots; ``metadata["execution"]["execution_spans"]``: when the data was taken;
* estimator: ``evs``, ``stds`` and ``ensemble_standard_error`` as float arrays of the PUB's
  shape (0-d for a single observable: never a Python float); per PUB ``target_precision``,
  ``shots`` (None where no shots were measured), ``circuit_metadata`` and ``resilience``; per
  job ``dynamical_decoupling``, ``twirling`` and ``resilience``, saying what was applied.

Whatever an executor reports itself under these keys is kept: an executor that twirls or
mitigates reports it, and :func:`conform` fills in "not applied" only where it said nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.primitives import PrimitiveResult, PubResult, SamplerPubResult
from qiskit.primitives.containers import BitArray, DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from .circuits import instruction_names
from .errors import ExecutorContractError
from .tasks import ExecutionTask, SamplerTask

#: The estimator's data fields, in IBM's order.
ESTIMATOR_FIELDS = ("evs", "stds", "ensemble_standard_error")


def sampler_pub_result(
    circuit: QuantumCircuit,
    bits: NDArray[np.bool_],
    shape: tuple[int, ...],
    metadata: dict[str, Any],
) -> SamplerPubResult:
    """A SamplerV2 PUB result from the clbit values of every shot (``bits``: parameter sets,
    shots, clbits, in the circuit's clbit order), one ``BitArray`` field per classical register
    of ``circuit``, as Qiskit's and Aer's samplers build them. Clbits outside every register
    are not reported, as there."""
    fields: dict[str, BitArray] = {}
    for register in circuit.cregs:
        columns = [circuit.find_bit(clbit).index for clbit in register]
        array = BitArray.from_bool_array(bits[:, :, columns], order="little")
        fields[register.name] = array.reshape(shape)
    return SamplerPubResult(DataBin(**fields, shape=shape), metadata=metadata)


def estimator_pub_result(
    pub: EstimatorPub,
    evs: NDArray[np.float64],
    stds: NDArray[np.float64],
    metadata: dict[str, Any],
) -> PubResult:
    """An EstimatorV2 PUB result with ``evs`` and ``stds`` as float arrays of the PUB's shape
    (0-d for one observable; empty for an empty sweep)."""
    evs = np.asarray(evs, dtype=np.float64).reshape(pub.shape)
    stds = np.asarray(stds, dtype=np.float64).reshape(pub.shape)
    return PubResult(DataBin(evs=evs, stds=stds, shape=pub.shape), metadata=metadata)


def conform(
    result: PrimitiveResult, task: ExecutionTask, started: datetime, stopped: datetime
) -> PrimitiveResult:
    """``result`` in IBM's form (see the module's docstring); ``started`` and ``stopped``
    (UTC) bound the execution, for the sampler's execution span when the executor gave none.
    Raises ExecutorContractError for data that does not fit the PUBs."""
    metadata = dict(result.metadata)
    metadata.setdefault("version", 2)
    if isinstance(task, SamplerTask):
        pub_results: list[PubResult] = [
            _sampler_pub_result(index, pub_result, pub)
            for index, (pub_result, pub) in enumerate(zip(result, task.pubs, strict=True))
        ]
        metadata.setdefault("execution", {"execution_spans": _spans(task, started, stopped)})
    else:
        pub_results = [
            _estimator_pub_result(index, pub_result, pub)
            for index, (pub_result, pub) in enumerate(zip(result, task.pubs, strict=True))
        ]
        for key, value in not_applied(task.options.raw).items():
            metadata.setdefault(key, value)
    return PrimitiveResult(pub_results, metadata=metadata)


def with_derived_calibrations(result: PrimitiveResult, task: ExecutionTask) -> PrimitiveResult:
    """``result`` saying under ``derived_calibrations`` which of the device's calibrations that
    its circuits use are not the device's own, and where they come from (see
    ``BackendDescription.derived_calibrations``): for results simulated with the device's
    noise."""
    derived = derived_calibrations(task)
    if not derived or "derived_calibrations" in result.metadata:
        return result
    return PrimitiveResult(
        list(result), metadata={**result.metadata, "derived_calibrations": derived}
    )


def derived_calibrations(task: ExecutionTask) -> dict[str, str]:
    """The derived calibrations (instruction name -> source) that ``task``'s circuits use."""
    derived = task.backend.derived_calibrations()
    if not derived:
        return {}
    used: set[str] = set()
    for pub in task.pubs:
        used |= instruction_names(pub.circuit)
    return {name: source for name, source in derived.items() if name in used}


def not_applied(raw_options: Mapping[str, Any]) -> dict[str, Any]:
    """The estimator job metadata IBM writes about dynamical decoupling, twirling and error
    mitigation, for a run that applied none of them: the settings echo the job's options (or
    IBM's defaults), with every ``enable`` flag false."""
    dd = _section(raw_options, "dynamical_decoupling")
    twirling = _section(raw_options, "twirling")
    return {
        "dynamical_decoupling": {
            "enable": False,
            "sequence_type": dd.get("sequence_type", "XX"),
            "extra_slack_distribution": dd.get("extra_slack_distribution", "middle"),
            "scheduling_method": dd.get("scheduling_method", "alap"),
        },
        "twirling": {
            "enable_gates": False,
            "enable_measure": False,
            "num_randomizations": twirling.get("num_randomizations", "auto"),
            "shots_per_randomization": twirling.get("shots_per_randomization", "auto"),
            "interleave_randomizations": True,
            "strategy": twirling.get("strategy", "active-accum"),
        },
        "resilience": {
            "measure_mitigation": False,
            "zne_mitigation": False,
            "pec_mitigation": False,
        },
    }


def _section(raw_options: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = raw_options.get(name)
    return section if isinstance(section, Mapping) else {}


def _spans(task: SamplerTask, started: datetime, stopped: datetime) -> Any:
    """One span over the whole execution: every PUB's data was taken within it."""
    from qiskit_ibm_runtime.execution_span import DoubleSliceSpan, ExecutionSpans

    slices = {
        index: (
            (*pub.shape, pub.shots or 0),
            slice(0, int(np.prod(pub.shape, dtype=int))),
            slice(0, pub.shots or 0),
        )
        for index, pub in enumerate(task.pubs)
    }
    return ExecutionSpans([DoubleSliceSpan(started, stopped, slices)])


def _sampler_pub_result(index: int, pub_result: Any, pub: SamplerPub) -> SamplerPubResult:
    if not isinstance(pub_result, PubResult):
        raise ExecutorContractError(
            f"PUB {index}: the result is a {type(pub_result).__name__}, not a SamplerPubResult"
        )
    for name, value in pub_result.data.items():
        if not isinstance(value, BitArray):
            continue
        if value.shape != pub.shape or value.num_shots != pub.shots:
            raise ExecutorContractError(
                f"PUB {index}: field {name!r} holds {value.num_shots} shots of shape "
                f"{value.shape}; the PUB asks for {pub.shots} shots of shape {pub.shape}"
            )
    metadata = dict(pub_result.metadata)
    metadata.setdefault("shots", pub.shots)
    metadata.setdefault("circuit_metadata", pub.circuit.metadata)
    return SamplerPubResult(pub_result.data, metadata=metadata)


def _estimator_pub_result(index: int, pub_result: Any, pub: EstimatorPub) -> PubResult:
    if not isinstance(pub_result, PubResult):
        raise ExecutorContractError(
            f"PUB {index}: the result is a {type(pub_result).__name__}, not a PubResult"
        )
    fields = dict(pub_result.data.items())
    for name in ("evs", "stds"):
        if name not in fields:
            raise ExecutorContractError(f"PUB {index}: the result has no {name!r}")
    fields.setdefault("ensemble_standard_error", fields["stds"])
    arrays = {name: _float_array(index, name, fields.pop(name), pub) for name in ESTIMATOR_FIELDS}
    metadata = dict(pub_result.metadata)
    metadata.setdefault("target_precision", pub.precision)
    metadata.setdefault("shots", None)
    metadata.setdefault("circuit_metadata", pub.circuit.metadata)
    metadata.setdefault("resilience", {})
    data = DataBin(**arrays, **fields, shape=pub.shape)
    return type(pub_result)(data, metadata=metadata)


def _float_array(index: int, name: str, value: Any, pub: EstimatorPub) -> NDArray[np.float64]:
    array = np.asarray(value)
    if np.iscomplexobj(array) or array.dtype.kind not in "fiu":
        raise ExecutorContractError(
            f"PUB {index}: {name!r} must hold real numbers, not {array.dtype}"
        )
    if array.shape != pub.shape:
        raise ExecutorContractError(
            f"PUB {index}: {name!r} has shape {array.shape}; the PUB's shape is {pub.shape}"
        )
    return array.astype(np.float64)
