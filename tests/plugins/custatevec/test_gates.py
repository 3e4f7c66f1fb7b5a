"""Gate matrices over a sweep equal Qiskit's own matrices for every parameter set."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit import Parameter
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Operator
from qiskit_runtime_server_custatevec.gates import VECTORISED, gate_matrices

STANDARD = get_standard_gate_name_mapping()


@pytest.mark.parametrize("name", sorted(VECTORISED))
def test_vectorised_matrices_are_qiskits(name: str) -> None:
    gate_class = type(STANDARD[name])
    parameters = [Parameter(f"p{i}") for i in range(len(STANDARD[name].params))]
    values = np.random.default_rng(len(name)).uniform(-7, 7, (5, len(parameters)))
    matrices = gate_matrices(
        gate_class(*parameters), {p: i for i, p in enumerate(parameters)}, values
    )
    expected = np.stack([Operator(gate_class(*row)).data for row in values])
    np.testing.assert_allclose(matrices, expected, atol=1e-12)


def test_expressions_and_other_gates_are_bound_per_set() -> None:
    a, b = Parameter("a"), Parameter("b")
    gate = type(STANDARD["cu"])(2 * a - b, b, a * b, 0.5)
    values = np.array([[0.1, 0.2], [1.0, -3.0], [2.5, 0.0]])
    matrices = gate_matrices(gate, {a: 0, b: 1}, values)
    expected = np.stack(
        [Operator(type(STANDARD["cu"])(2 * x - y, y, x * y, 0.5)).data for x, y in values]
    )
    np.testing.assert_allclose(matrices, expected, atol=1e-12)


def test_fixed_gates_are_one_shared_matrix() -> None:
    matrices = gate_matrices(STANDARD["cx"], {}, np.zeros((9, 0)))
    assert matrices.shape == (1, 4, 4)
    np.testing.assert_allclose(matrices[0], Operator(STANDARD["cx"]).data)
