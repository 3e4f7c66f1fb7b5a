"""Results in the form IBM returns them (results.conform), whatever an executor returned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import PrimitiveResult, PubResult, SamplerPubResult
from qiskit.primitives.containers import BitArray, DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp
from qiskit_runtime_server import DocumentDescription, EstimatorTask, SamplerTask, TaskOptions
from qiskit_runtime_server.builtin.ideal_simulator import ideal_configuration
from qiskit_runtime_server.errors import ExecutorContractError
from qiskit_runtime_server.results import conform, not_applied

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STOPPED = STARTED + timedelta(seconds=2)
IDEAL = DocumentDescription("ideal_simulator", ideal_configuration(2))


def bell(measure: bool) -> QuantumCircuit:
    circuit = QuantumCircuit(2, metadata={"name": "bell"})
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def sampler_task(*pubs: Any) -> SamplerTask:
    return SamplerTask(
        job_id="j", executor="x", backend_name="ideal_simulator@x",
        backend=IDEAL, options=TaskOptions(),
        pubs=tuple(SamplerPub.coerce(pub) for pub in pubs),
    )  # fmt: skip


def estimator_task(*pubs: Any, raw: dict[str, Any] | None = None) -> EstimatorTask:
    return EstimatorTask(
        job_id="j", executor="x", backend_name="ideal_simulator@x",
        backend=IDEAL, options=TaskOptions(raw=raw or {}),
        pubs=tuple(EstimatorPub.coerce(pub) for pub in pubs),
    )  # fmt: skip


def bits(shape: tuple[int, ...], shots: int) -> BitArray:
    return BitArray(np.zeros((*shape, shots, 1), dtype=np.uint8), num_bits=2)


def test_a_single_observables_floats_become_0d_arrays() -> None:
    task = estimator_task((bell(False), SparsePauliOp("ZZ"), None, 0.1))
    # What BackendEstimatorV2 returns for one observable: stds a NumPy scalar.
    returned = PubResult(DataBin(evs=np.array(0.98), stds=np.float64(0.02)), metadata={})
    pub_result = conform(PrimitiveResult([returned]), task, STARTED, STOPPED)[0]
    assert type(pub_result) is PubResult
    assert list(pub_result.data) == ["evs", "stds", "ensemble_standard_error"]
    for name, value in (("evs", 0.98), ("stds", 0.02), ("ensemble_standard_error", 0.02)):
        array = getattr(pub_result.data, name)
        assert isinstance(array, np.ndarray)
        assert array.shape == ()
        assert array.dtype == np.float64
        assert float(array) == value
    assert pub_result.metadata == {
        "target_precision": 0.1, "shots": None, "circuit_metadata": {"name": "bell"},
        "resilience": {},
    }  # fmt: skip


def test_what_an_executor_reports_is_kept() -> None:
    task = estimator_task((bell(False), [SparsePauliOp("ZZ"), SparsePauliOp("XX")], None, 0.1))
    data = DataBin(
        evs=np.ones(2), stds=np.full(2, 0.1), ensemble_standard_error=np.full(2, 0.05),
        evs_extrapolated=np.ones((2, 1)), shape=(2,),
    )  # fmt: skip
    metadata = {"shots": 100, "resilience": {"zne": {}}, "simulator": {"method": "m"}}
    twirling = {"enable_gates": True, "enable_measure": True}
    returned = PrimitiveResult([PubResult(data, metadata)], metadata={"twirling": twirling})
    result = conform(returned, task, STARTED, STOPPED)
    pub_result = result[0]
    np.testing.assert_array_equal(pub_result.data.ensemble_standard_error, [0.05, 0.05])
    assert pub_result.data.evs_extrapolated.shape == (2, 1)
    assert pub_result.metadata["shots"] == 100
    assert pub_result.metadata["resilience"] == {"zne": {}}
    assert pub_result.metadata["simulator"] == {"method": "m"}
    assert result.metadata["twirling"] == twirling
    assert result.metadata["resilience"]["measure_mitigation"] is False
    assert result.metadata["version"] == 2


def test_not_applied_echoes_the_jobs_settings() -> None:
    raw = {"twirling": {"strategy": "all", "num_randomizations": 8},
           "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"}}  # fmt: skip
    metadata = not_applied(raw)
    assert metadata["dynamical_decoupling"] == {
        "enable": False, "sequence_type": "XY4", "extra_slack_distribution": "middle",
        "scheduling_method": "alap",
    }  # fmt: skip
    assert metadata["twirling"]["enable_measure"] is False
    assert metadata["twirling"]["strategy"] == "all"
    assert metadata["twirling"]["num_randomizations"] == 8
    assert metadata["resilience"] == {
        "measure_mitigation": False, "zne_mitigation": False, "pec_mitigation": False,
    }  # fmt: skip


def test_sampler_results_get_metadata_and_one_span_over_the_execution() -> None:
    task = sampler_task((bell(True), None, 10), (bell(True), np.zeros((3, 0)), 20))
    returned = PrimitiveResult(
        [PubResult(DataBin(meas=bits((), 10)), metadata={}),
         SamplerPubResult(DataBin(meas=bits((3,), 20), shape=(3,)), metadata={"shots": 20})],
    )  # fmt: skip
    result = conform(returned, task, STARTED, STOPPED)
    assert [type(r) for r in result] == [SamplerPubResult, SamplerPubResult]
    assert result[0].metadata == {"shots": 10, "circuit_metadata": {"name": "bell"}}
    assert result.metadata["version"] == 2
    (span,) = result.metadata["execution"]["execution_spans"]
    assert (span.start, span.stop) == (STARTED, STOPPED)
    assert span.pub_idxs == [0, 1]
    assert span.mask(0).shape == (10,)
    assert span.mask(1).shape == (3, 20)
    assert span.mask(0).all()
    assert span.mask(1).all()
    assert span.size == 10 + 60


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (
            DataBin(meas=bits((), 10)),
            r"10 shots of shape \(\); the PUB asks for 10 shots of shape \(3,\)",
        ),
        (DataBin(meas=bits((3,), 5), shape=(3,)), "holds 5 shots"),
    ],
)
def test_sampler_data_that_does_not_fit_the_pub_is_refused(returned: DataBin, message: str) -> None:
    task = sampler_task((bell(True), [(), (), ()], 10))
    with pytest.raises(ExecutorContractError, match=message):
        conform(PrimitiveResult([SamplerPubResult(returned)]), task, STARTED, STOPPED)


@pytest.mark.parametrize(
    ("evs", "stds", "message"),
    [
        (np.ones(1), np.ones(1), r"'evs' has shape \(1,\); the PUB's shape is \(3,\)"),
        (np.ones(3), 0.1, r"'stds' has shape \(\)"),
        (np.ones(3, dtype=complex), np.ones(3), "'evs' must hold real numbers"),
    ],
)
def test_estimator_data_that_does_not_fit_the_pub_is_refused(
    evs: Any, stds: Any, message: str
) -> None:
    task = estimator_task((bell(False), SparsePauliOp("ZZ"), np.zeros((3, 0)), 0.1))
    returned = PubResult(DataBin(evs=evs, stds=stds))
    with pytest.raises(ExecutorContractError, match=message):
        conform(PrimitiveResult([returned]), task, STARTED, STOPPED)


def test_an_estimator_result_without_evs_is_refused() -> None:
    task = estimator_task((bell(False), SparsePauliOp("ZZ"), None, 0.1))
    with pytest.raises(ExecutorContractError, match="PUB 0: the result has no 'stds'"):
        conform(PrimitiveResult([PubResult(DataBin(evs=np.ones(())))]), task, STARTED, STOPPED)
