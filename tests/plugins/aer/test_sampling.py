"""Shots rebuilt from counts: the same outcomes as Aer's own SamplerV2, in a random order."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2
from qiskit_runtime_server_aer.sampling import sample


def two_registers() -> QuantumCircuit:
    """A parameterised circuit whose registers interleave in clbit order."""
    theta = Parameter("theta")
    qubits = QuantumRegister(3, "q")
    low, high = ClassicalRegister(2, "low"), ClassicalRegister(1, "high")
    circuit = QuantumCircuit(qubits, low, high)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.h(2)
    circuit.measure(0, high[0])
    circuit.measure(1, low[1])
    circuit.measure(2, low[0])
    return circuit


def noisy_simulator() -> AerSimulator:
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["ry", "h"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["cx"])
    noise.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]))
    return AerSimulator(noise_model=noise, method="density_matrix")


def test_counts_per_register_and_parameter_set_match_aer_samplerv2() -> None:
    simulator = noisy_simulator()
    values = np.array([[0.3], [1.2], [2.8]]).reshape(3, 1)
    pubs = [SamplerPub.coerce((two_registers(), values, 2000))]
    ours = sample(simulator, pubs, seed=11)[0]
    aers = AerSamplerV2.from_backend(simulator, seed=11).run(pubs).result()[0]
    assert ours.data.shape == aers.data.shape == (3,)
    for register in ("low", "high"):
        for index in range(3):
            assert (
                getattr(ours.data, register)[index].get_counts()
                == getattr(aers.data, register)[index].get_counts()
            )
    assert ours.metadata["shots"] == 2000


def test_shots_come_in_a_random_order_and_repeat_with_the_seed() -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    pubs = [SamplerPub.coerce((circuit, None, 4000))]
    bits = sample(AerSimulator(), pubs, seed=5)[0].data.c.get_bitstrings()
    assert bits == sample(AerSimulator(), pubs, seed=5)[0].data.c.get_bitstrings()
    # Independent fair coin flips change value between neighbours about half the time
    # (2000 +- 32 for 4000 shots); sorted counts would change once.
    changes = sum(a != b for a, b in pairwise(bits))
    assert abs(changes - 2000) < 5 * 32


def test_pubs_group_by_shots_and_keep_their_order() -> None:
    one = QuantumCircuit(1, 1)
    one.x(0)
    one.measure(0, 0)
    zero = QuantumCircuit(1, 1)
    zero.measure(0, 0)
    pubs = [SamplerPub.coerce((one, None, 10)), SamplerPub.coerce((zero, None, 20))]
    pubs.append(SamplerPub.coerce((one, None, 20)))
    results = sample(AerSimulator(), pubs, seed=None)
    assert [r.data.c.get_counts() for r in results] == [{"1": 10}, {"0": 20}, {"1": 20}]


def test_outcomes_wider_than_a_machine_word() -> None:
    circuit = QuantumCircuit(2, 70)
    circuit.x(1)
    circuit.measure(1, 69)
    circuit.measure(0, 3)
    result = sample(AerSimulator(), [SamplerPub.coerce((circuit, None, 8))], seed=1)[0]
    assert result.data.c.get_counts() == {"1" + "0" * 69: 8}


def test_a_circuit_without_measurements_gives_zeros() -> None:
    circuit = QuantumCircuit(1, 2)
    circuit.h(0)
    result = sample(AerSimulator(), [SamplerPub.coerce((circuit, None, 5))], seed=1)[0]
    assert result.data.c.get_counts() == {"00": 5}


def test_a_pub_without_parameter_sets_gives_an_empty_result() -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1, 1)
    circuit.rx(theta, 0)
    circuit.measure(0, 0)
    empty = SamplerPub.coerce((circuit, np.empty((0, 1)), 10))
    full = SamplerPub.coerce((circuit, [[np.pi]], 10))
    results = sample(AerSimulator(), [empty, full], seed=1)
    assert results[0].data.shape == (0,)
    assert results[0].data.c.num_shots == 10
    assert results[1].data.c[0].get_counts() == {"1": 10}
