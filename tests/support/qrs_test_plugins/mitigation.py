"""Exact noisy references for twirling and error-mitigation tests.

Everything here is computed, not sampled: density matrices of a device's Aer noise model (built
as local testing mode builds it, ``NoiseModel.from_backend``), with the readout errors applied as
the classical confusion they are. Circuits are narrow (a few qubits) and use the device's basis,
so circuit qubit ``i`` is physical qubit ``i`` of the device.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import Kraus, Pauli, PauliLindbladMap, QubitSparsePauli, SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, QuantumError, pauli_error


def isa_h(circuit: QuantumCircuit, qubit: int) -> None:
    """A Hadamard in the IBM basis (rz, sx), up to a global phase."""
    circuit.rz(np.pi / 2, qubit)
    circuit.sx(qubit)
    circuit.rz(np.pi / 2, qubit)


#: Z0Z1, Z1Z2, Z2Z3 and XXXX (qubit 0 rightmost): the issue's observables, every ideal value of
#: GHZ-4 is 1.
GHZ4_OBSERVABLES = [SparsePauliOp(label) for label in ("IIZZ", "IZZI", "ZZII", "XXXX")]


def ghz4() -> QuantumCircuit:
    """GHZ-4 in the IBM basis on qubits 0-3 (CX(0,1), CX(1,2), CX(2,3): couplings of
    fake_kolkata and other heavy-hex devices)."""
    circuit = QuantumCircuit(4)
    isa_h(circuit, 0)
    for qubit in range(3):
        circuit.cx(qubit, qubit + 1)
    return circuit


def bell_with_cx_pairs(pairs: int) -> QuantumCircuit:
    """A Bell pair on qubits 0 and 1, then ``pairs`` pairs of CX(0, 1) (each pair is the
    identity): ideal <ZZ> = <XX> = 1, and the noise grows with ``2 * pairs + 1`` CX gates."""
    circuit = QuantumCircuit(2)
    isa_h(circuit, 0)
    circuit.cx(0, 1)
    for _ in range(pairs):
        circuit.cx(0, 1)
        circuit.cx(0, 1)
    return circuit


def pauli_twirled(error: QuantumError) -> QuantumError:
    """The Pauli channel a full Pauli twirl makes of ``error``: p(P) = sum_k |Tr(P K_k)|^2/d^2."""
    kraus = Kraus(error.to_quantumchannel()).data
    dim = 2**error.num_qubits
    terms = []
    for letters in itertools.product("IXYZ", repeat=error.num_qubits):
        matrix = Pauli("".join(letters)).to_matrix()
        prob = float(sum(abs(np.trace(matrix @ k)) ** 2 for k in kraus) / dim**2)
        if prob > 1e-15:
            terms.append(("".join(letters), prob))
    total = sum(p for _, p in terms)
    return pauli_error([(label, p / total) for label, p in terms])


def device_noise(
    backend: BackendV2, *, readout: bool = True, twirl_two_qubit: bool = False
) -> NoiseModel:
    """The device's Aer noise model, optionally without readout errors, or with every
    two-qubit gate error replaced by its Pauli twirl."""
    base = NoiseModel.from_backend(backend)
    model = NoiseModel(basis_gates=base.basis_gates)
    for gate, by_qubits in base._local_quantum_errors.items():
        for qubits, error in by_qubits.items():
            twirled = twirl_two_qubit and len(qubits) == 2
            model.add_quantum_error(pauli_twirled(error) if twirled else error, gate, qubits)
    if readout:
        for qubits, readout_error in base._local_readout_errors.items():
            model.add_readout_error(readout_error, qubits)
    return model


def probabilities(circuit: QuantumCircuit, noise: NoiseModel | None) -> np.ndarray:
    """Exact outcome probabilities of measuring every qubit of ``circuit`` (its final
    measurements are dropped), indexed little-endian (bit i of the index is qubit i), with the
    noise model's readout errors applied."""
    return batch_probabilities([circuit], noise)[0]


def batch_probabilities(circuits: Sequence[QuantumCircuit], noise: NoiseModel | None) -> np.ndarray:
    """:func:`probabilities` of circuits of one width, in one simulator run: shape (k, 2**n)."""
    bare = []
    for circuit in circuits:
        stripped = circuit.remove_final_measurements(inplace=False)
        stripped.save_probabilities()
        bare.append(stripped)
    num_qubits = bare[0].num_qubits
    simulator = AerSimulator(method="density_matrix", noise_model=noise)
    result = simulator.run(bare, shots=1).result()
    out = np.empty((len(bare), 2**num_qubits))
    for index in range(len(bare)):
        probs = np.asarray(result.data(index)["probabilities"], dtype=float)
        tensor = probs.reshape([2] * num_qubits)
        if noise is not None:
            for qubit in range(num_qubits):
                readout = noise._local_readout_errors.get((qubit,))
                if readout is None:
                    continue
                axis = num_qubits - 1 - qubit  # tensor axis 0 is the highest qubit
                confusion = np.asarray(readout.probabilities)  # [prepared, read]
                tensor = np.moveaxis(np.tensordot(tensor, confusion, axes=([axis], [0])), -1, axis)
        out[index] = tensor.reshape(-1)
    return out


def parity(probs: np.ndarray, qubits: Sequence[int]) -> float:
    """<Z...Z> on ``qubits`` of a little-endian outcome distribution."""
    index = np.arange(len(probs))
    sign = np.ones(len(probs))
    for qubit in qubits:
        sign *= 1 - 2 * ((index >> qubit) & 1)
    return float(sign @ probs)


def measured_in_x(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with every qubit rotated to be measured in the X basis."""
    rotated = circuit.remove_final_measurements(inplace=False)
    for qubit in range(rotated.num_qubits):
        isa_h(rotated, qubit)
    return rotated


def twirled_ensemble(
    template: QuantumCircuit,
    parameter_values: np.ndarray,
    flips: np.ndarray,
    noise: NoiseModel | None,
) -> np.ndarray:
    """Exact outcome distribution of each randomization of a twirled circuit, as the client
    reports it: the bound template's noisy probabilities, with the measurement flips undone
    (reported bits = measured bits XOR flips). ``parameter_values`` has shape (R, n_params),
    ``flips`` (R, num_qubits) booleans; returns an (R, 2**num_qubits) array."""
    weights = 1 << np.arange(template.num_qubits)
    bound = [template.assign_parameters(values) for values in parameter_values]
    out = batch_probabilities(bound, noise)
    outcomes = np.arange(out.shape[1])
    for r in range(len(out)):
        mask = int(np.asarray(flips[r], dtype=int) @ weights)
        out[r] = out[r][outcomes ^ mask]
    return out


def injected_fidelity(circuit: QuantumCircuit, observable: Pauli, noise: PauliLindbladMap) -> float:
    """The factor by which one unit of the Pauli-Lindblad channel ``noise`` placed right after
    every two-qubit gate of ``circuit`` multiplies ``<observable>`` at its end: the product, over
    the gates, of ``noise``'s Pauli fidelity for the observable propagated back (Heisenberg
    picture) to just after the gate, restricted to the gate's qubits in ascending order (the
    map's qubit ``i`` is the gate's ``i``-th lowest qubit). That is where PEA injects a layer's
    learned noise for a left-dressed box (``InjectNoise(site="after")``; local testing mode's
    InsertNoisePass puts it at the same place). A Pauli channel commutes with the twirl's
    Paulis, so twirling changes nothing here. Everything after the first two-qubit gate must be
    Clifford; signs of the propagated Pauli do not matter."""
    fidelity = 1.0
    for index, instruction in enumerate(circuit.data):
        if instruction.operation.num_qubits != 2:
            continue
        tail = circuit.copy_empty_like()
        for later in circuit.data[index + 1 :]:
            tail.append(later)
        seen = observable.evolve(tail, frame="h")
        qubits = sorted(circuit.find_bit(q).index for q in instruction.qubits)
        local = Pauli((seen.z[qubits], seen.x[qubits]))
        fidelity *= noise.pauli_fidelity(QubitSparsePauli.from_pauli(local))
    return float(fidelity)
