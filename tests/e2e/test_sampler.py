"""SamplerV2 through the real client: noise, shots, seeds, sweeps and fidelity to local mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import SamplerPubResult, StatevectorSampler
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.execution_span import ExecutionSpans
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from qiskit_runtime_server.testing.contract import check_ibm_schema
from scipy.stats import chi2_contingency


def ghz(n: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for qubit in range(n - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


@pytest.fixture(scope="module")
def manila(service: QiskitRuntimeService):  # type: ignore[no-untyped-def]
    return service.backend("fake_manila@aer")


@pytest.fixture(scope="module")
def isa_ghz3(manila):  # type: ignore[no-untyped-def]
    return generate_preset_pass_manager(1, backend=manila, seed_transpiler=5).run(ghz(3))


def test_noise_is_visible_and_shots_are_right(manila, isa_ghz3) -> None:  # type: ignore[no-untyped-def]
    sampler = SamplerV2(mode=manila)
    result = sampler.run([isa_ghz3], shots=3000).result()
    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == 3000
    assert result[0].metadata["shots"] == 3000
    errors = 3000 - counts.get("000", 0) - counts.get("111", 0)
    # fake_manila's two-qubit and readout errors put a few percent outside GHZ outcomes.
    assert 0.01 * 3000 < errors < 0.3 * 3000, counts
    assert "fake_manila device noise" in result.metadata["simulator"]["noise"]


def test_same_seed_gives_same_counts(manila, isa_ghz3) -> None:  # type: ignore[no-untyped-def]
    def counts(seed: int) -> dict[str, int]:
        sampler = SamplerV2(mode=manila)
        sampler.options.simulator.seed_simulator = seed
        data: dict[str, int] = sampler.run([isa_ghz3], shots=500).result()[0].data.meas.get_counts()
        return data

    assert counts(1234) == counts(1234)
    assert counts(1234) != counts(4321)


def test_default_shots_option(manila, isa_ghz3) -> None:  # type: ignore[no-untyped-def]
    sampler = SamplerV2(mode=manila)
    sampler.options.default_shots = 777
    with pytest.warns(DeprecationWarning, match="different 'shots' across pubs"):
        result = sampler.run([isa_ghz3, (isa_ghz3, None, 55)]).result()
    assert result[0].data.meas.num_shots == 777
    assert result[1].data.meas.num_shots == 55
    # Without any option the server applies IBM's default of 4096 shots.
    assert SamplerV2(mode=manila).run([isa_ghz3]).result()[0].data.meas.num_shots == 4096


def test_parameter_sweep_matches_exact_probabilities(service: QiskitRuntimeService) -> None:
    backend = service.backend("ideal_simulator@aer")
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    angles = np.linspace(0, np.pi, 7)
    shots = 4000
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = 99
    result = sampler.run([(circuit, angles, shots)]).result()
    bits = result[0].data.meas
    assert bits.shape == (7,)
    for index, angle in enumerate(angles):
        counts = bits[index].get_counts()
        assert set(counts) <= {"00", "11"}
        p11 = math.sin(angle / 2) ** 2
        observed = counts.get("11", 0) / shots
        sigma = math.sqrt(max(p11 * (1 - p11), 1e-12) / shots)
        assert abs(observed - p11) <= 5 * sigma + 1e-9, (angle, observed, p11)


def test_statistically_consistent_with_local_testing_mode(manila, isa_ghz3) -> None:  # type: ignore[no-untyped-def]
    """Same fake device, same ISA circuit: the server's and local mode's count distributions
    pass a chi-square homogeneity test (p > 0.001), and both differ from the ideal one."""
    shots = 8000
    server = SamplerV2(mode=manila)
    server.options.simulator.seed_simulator = 17
    remote = server.run([isa_ghz3], shots=shots).result()[0].data.meas.get_counts()
    local_sampler = SamplerV2(mode=FakeManilaV2())
    local_sampler.options.simulator.seed_simulator = 71
    local = local_sampler.run([isa_ghz3], shots=shots).result()[0].data.meas.get_counts()
    outcomes = sorted(set(remote) | set(local))
    table = np.array([[remote.get(k, 0) for k in outcomes], [local.get(k, 0) for k in outcomes]])
    table = table[:, table.sum(axis=0) >= 10]  # chi-square needs populated cells
    _, p_value, _, _ = chi2_contingency(table)
    assert p_value > 0.001, (remote, local)


def test_multiple_classical_registers(service: QiskitRuntimeService) -> None:
    from qiskit import ClassicalRegister, QuantumRegister

    qreg = QuantumRegister(2)
    low, high = ClassicalRegister(1, "low"), ClassicalRegister(1, "high")
    circuit = QuantumCircuit(qreg, low, high)
    circuit.x(1)
    circuit.measure(0, low[0])
    circuit.measure(1, high[0])
    result = (
        SamplerV2(mode=service.backend("ideal_simulator@aer")).run([(circuit, None, 20)]).result()
    )
    assert result[0].data.low.get_counts() == {"0": 20}
    assert result[0].data.high.get_counts() == {"1": 20}


def test_noise_approximation_is_opt_in_and_stated(manila, isa_ghz3) -> None:  # type: ignore[no-untyped-def]
    exact = SamplerV2(mode=manila).run([isa_ghz3], shots=100).result()
    assert exact[0].metadata["simulator"]["noise_approximation"] is None
    assert "exact" in exact.metadata["simulator"]["noise"]
    for name in ("pauli_twirl", "readout_only"):
        sampler = SamplerV2(mode=manila, options={"experimental": {"noise_approximation": name}})
        result = sampler.run([isa_ghz3], shots=100).result()
        assert result[0].metadata["simulator"]["noise_approximation"] == name
        assert "largest |error|" in result[0].metadata["simulator"]["approximation_bias"]
        assert name in result.metadata["simulator"]["noise"]
    bad = SamplerV2(mode=manila, options={"experimental": {"noise_approximation": "magic"}})
    with pytest.raises(Exception, match="noise_approximation must be one of"):  # 400 at submit
        bad.run([isa_ghz3], shots=100).job_id()


@pytest.fixture(scope="module")
def isa_bell(manila):  # type: ignore[no-untyped-def]
    return generate_preset_pass_manager(1, backend=manila, seed_transpiler=5).run(ghz(2))


def test_parameter_sets_of_a_circuit_without_parameters(manila, isa_bell) -> None:  # type: ignore[no-untyped-def]
    """``run([(isa_bell, [(), (), ()])])``: parameter values of shape (3, 0), three sets of
    4096 shots, as local testing mode and Qiskit's reference sampler shape them."""
    pub = (isa_bell, [(), (), ()])
    bits = SamplerV2(mode=manila).run([pub]).result()[0].data.meas
    local = SamplerV2(mode=FakeManilaV2()).run([pub]).result()[0].data.meas
    assert bits.shape == local.shape == (3,)
    assert bits.num_shots == 4096
    for index in range(3):
        counts = bits[index].get_counts()
        wrong = 4096 - counts.get("00", 0) - counts.get("11", 0)
        assert 0 < wrong < 0.2 * 4096, counts  # fake_manila's errors, a few percent
    # Independent sets: with device noise, equal counts (or equal shots) would be a copy.
    assert bits[0].get_counts() != bits[1].get_counts() != bits[2].get_counts()


def test_sets_of_a_circuit_without_parameters_are_independent_and_exact(
    service: QiskitRuntimeService,
) -> None:
    """On the ideal simulator, each of the sets follows the exact distribution of a uniform
    3-qubit state (five binomial standard deviations), and two sets agree on a shot no more
    often than chance (1/8)."""
    circuit = QuantumCircuit(3)
    circuit.h(range(3))
    circuit.measure_all()
    shots = 3000
    sampler = SamplerV2(mode=service.backend("ideal_simulator@aer"))
    sampler.options.simulator.seed_simulator = 21
    bits = sampler.run([(circuit, np.zeros((2, 2, 0)), shots)]).result()[0].data.meas
    assert bits.shape == (2, 2)
    outcomes = bits.array[..., 0].reshape(4, shots)
    sigma = math.sqrt(1 / 8 * 7 / 8 / shots)
    for row in outcomes:
        for value in range(8):
            assert abs(np.mean(row == value) - 1 / 8) <= 5 * sigma
    for first in range(4):
        for second in range(first + 1, 4):
            assert abs(np.mean(outcomes[first] == outcomes[second]) - 1 / 8) <= 5 * sigma


@pytest.mark.parametrize(
    ("parameters", "values_shape"),
    [(0, (2, 3, 0)), (0, (0, 0)), (0, (2, 0, 0)), (1, (0, 1)), (1, (2, 0, 1))],
)
def test_degenerate_sweeps_have_the_reference_shapes(
    service: QiskitRuntimeService, parameters: int, values_shape: tuple[int, ...]
) -> None:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    if parameters:
        circuit.ry(Parameter("a"), 1)
    circuit.measure_all()
    pub = (circuit, np.zeros(values_shape), 50)
    expected = StatevectorSampler().run([pub]).result()[0].data.meas
    for backend in ("ideal_simulator@aer", "fake_manila@aer"):
        sent = pub
        if backend.startswith("fake"):
            device = service.backend(backend)
            isa = generate_preset_pass_manager(1, backend=device, seed_transpiler=1).run(circuit)
            sent = (isa, *pub[1:])
        meas = SamplerV2(mode=service.backend(backend)).run([sent]).result()[0].data.meas
        assert (meas.shape, meas.num_shots, meas.num_bits) == (expected.shape, 50, 2), backend
        assert meas.array.shape == expected.array.shape


def test_results_have_ibms_form(manila, isa_bell) -> None:  # type: ignore[no-untyped-def]
    """What IBM's schema asks for, and every key local testing mode gives, with its types."""
    isa = isa_bell.copy()
    isa.metadata = {"experiment": 7}
    pubs = [(isa, None, 100), (isa, [(), ()], 100)]
    result = SamplerV2(mode=manila).run(pubs).result()
    check_ibm_schema(result, "sampler")
    local = SamplerV2(mode=FakeManilaV2()).run(pubs).result()
    assert result.metadata["version"] == 2
    spans = result.metadata["execution"]["execution_spans"]
    assert isinstance(spans, ExecutionSpans)
    assert spans.pub_idxs == [0, 1]
    assert spans.start <= spans.stop
    for ours, theirs in zip(result, local, strict=True):
        assert type(ours) is type(theirs) is SamplerPubResult
        for key, value in theirs.metadata.items():
            assert ours.metadata[key] == value, key
        assert ours.metadata["circuit_metadata"] == {"experiment": 7}
        assert list(ours.data) == list(theirs.data) == ["meas"]
