"""Opt-in noise approximations: faster, never silent, each with a measured bias.

A job asks for one with ``options.experimental = {"noise_approximation": NAME}`` (the client
passes ``experimental`` through unchanged); the result metadata of every PUB names it.

* ``pauli_twirl``: every gate error replaced by its Pauli twirl, the Pauli channel with the
  same Pauli fidelities (the diagonal of its Pauli transfer matrix); readout errors unchanged.
  Thermal relaxation's pull toward |0> (its non-unital part) is dropped, so the bias leans
  toward symmetric decay. Pauli channels are mixtures of unitaries, which trajectory methods
  sample before the run: no state-dependent Kraus step.
* ``readout_only``: gate errors dropped, readout errors kept: a fast preview that leaves out
  most of the gate noise.

The biases stated in docs/simulation.md are measured by tests/plugins/aer/test_approximation.py.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
from qiskit.quantum_info import Pauli, SuperOp
from qiskit_aer.noise import NoiseModel, QuantumError, pauli_error

from .noise import SerialisedOnceNoiseModel

APPROXIMATIONS = ("pauli_twirl", "readout_only")
OPTION = "experimental.noise_approximation"
#: Largest |error| on any <Z_i> or <Z_i Z_i+1> (before readout) measured exactly on
#: efficient_su2(8) on fake_guadalupe and GHZ-10 on fake_kolkata; the tests hold them.
BIAS_BOUNDS = {"pauli_twirl": 0.03, "readout_only": 0.05}
DOCUMENTED_BIAS = {
    name: f"largest |error| on <Z>, <ZZ> measured at most {bound} (docs/simulation.md)"
    for name, bound in BIAS_BOUNDS.items()
}


def requested(raw_options: object) -> str | None:
    """The approximation a job asks for, or None; ValueError for an unknown one."""
    experimental = raw_options.get("experimental") if isinstance(raw_options, dict) else None
    if not isinstance(experimental, dict) or experimental.get("noise_approximation") is None:
        return None
    name = experimental["noise_approximation"]
    if name not in APPROXIMATIONS:
        raise ValueError(
            f"options.{OPTION} must be one of {', '.join(APPROXIMATIONS)}, got {name!r}"
        )
    return str(name)


@lru_cache(maxsize=16)
def _paulis(num_qubits: int) -> tuple[list[str], np.ndarray]:
    """Pauli labels and the +-1 matrix of their commutation (1 commute, -1 anticommute)."""
    labels = ["".join(p) for p in itertools.product("IXYZ", repeat=num_qubits)]
    paulis = [Pauli(label) for label in labels]
    signs = np.array([[1 if p.commutes(q) else -1 for q in paulis] for p in paulis])
    return labels, signs


def pauli_twirl(error: QuantumError) -> QuantumError:
    """The Pauli channel whose Pauli fidelities are those of ``error``."""
    n = error.num_qubits
    labels, signs = _paulis(n)
    # Pauli fidelities f_P = Tr(P E(P)) / 2^n: the diagonal of the Pauli transfer matrix.
    superop = SuperOp(error.to_quantumchannel()).data
    fidelities = np.empty(len(labels))
    for index, label in enumerate(labels):
        vector = Pauli(label).to_matrix().reshape(-1, order="F")
        fidelities[index] = np.vdot(vector, superop @ vector).real / 2**n
    # p_Q = 4^-n sum_P s(P,Q) f_P, where s is +1 when P and Q commute.
    probabilities = np.clip(signs @ fidelities / 4**n, 0.0, None)
    probabilities /= probabilities.sum()
    terms = [(label, float(p)) for label, p in zip(labels, probabilities, strict=True) if p > 1e-15]
    return pauli_error(terms)


def approximate(model: NoiseModel, name: str) -> NoiseModel:
    """A new model: ``model`` under the approximation ``name``."""
    result = SerialisedOnceNoiseModel(basis_gates=model.basis_gates)
    if name == "pauli_twirl":
        for instruction, errors in model._local_quantum_errors.items():
            for qubits, error in errors.items():
                result.add_quantum_error(pauli_twirl(error), instruction, qubits, warnings=False)
        for instruction, error in model._default_quantum_errors.items():
            result.add_all_qubit_quantum_error(pauli_twirl(error), instruction, warnings=False)
    for qubits, readout in model._local_readout_errors.items():
        result.add_readout_error(readout, qubits, warnings=False)
    if model._default_readout_error is not None:
        result.add_all_qubit_readout_error(model._default_readout_error, warnings=False)
    return result
