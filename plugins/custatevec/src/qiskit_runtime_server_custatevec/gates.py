"""Gate matrices for a whole parameter sweep at once.

A parametric gate in a sweep of B parameter sets becomes a stack of B matrices, which the kernel
applies to B statevectors in one call. The common rotations are computed vectorised; any other
gate is bound and converted once per parameter set (``Operator`` handles every gate with a
definition). Matrices follow Qiskit's convention (bit i of the index is qargs[i]).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import Gate, Parameter, ParameterExpression
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Operator

from .kernel import Matrices

Values = NDArray[np.float64]
"""One value per parameter set, shape ``(B,)``."""


def _rx(t: Values) -> Matrices:
    c, s = np.cos(t / 2), -1j * np.sin(t / 2)
    return np.stack([np.stack([c, s], -1), np.stack([s, c], -1)], -2)


def _ry(t: Values) -> Matrices:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(np.complex128)


def _diagonal(*entries: NDArray[np.complex128]) -> Matrices:
    out = np.zeros((entries[0].size, len(entries), len(entries)), dtype=np.complex128)
    for i, entry in enumerate(entries):
        out[:, i, i] = entry
    return out


def _rz(t: Values) -> Matrices:
    return _diagonal(np.exp(-0.5j * t), np.exp(0.5j * t))


def _phase(t: Values) -> Matrices:
    return _diagonal(np.ones_like(t, dtype=np.complex128), np.exp(1j * t))


def _u(theta: Values, phi: Values, lam: Values) -> Matrices:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.stack(
        [
            np.stack([c + 0j, -np.exp(1j * lam) * s], -1),
            np.stack([np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c], -1),
        ],
        -2,
    )


def _rzz(t: Values) -> Matrices:
    a, b = np.exp(-0.5j * t), np.exp(0.5j * t)
    return _diagonal(a, b, b, a)


def _cp(t: Values) -> Matrices:
    one = np.ones_like(t, dtype=np.complex128)
    return _diagonal(one, one, one, np.exp(1j * t))


def _controlled(single: Callable[[Values], Matrices]) -> Callable[[Values], Matrices]:
    """The control is qargs[0] (index bit 0), the target qargs[1] (index bit 1)."""

    def build(t: Values) -> Matrices:
        inner = single(t)
        out = np.zeros((t.size, 4, 4), dtype=np.complex128)
        out[:, 0, 0] = out[:, 2, 2] = 1
        out[:, 1::2, 1::2] = inner
        return out

    return build


def _rotation_2q(pauli: NDArray[np.complexfloating[Any, Any]]) -> Callable[[Values], Matrices]:
    """exp(-i t/2 P) for a two-qubit Pauli product P with P @ P = 1."""

    def build(t: Values) -> Matrices:
        c = np.cos(t / 2)[:, None, None]
        s = np.sin(t / 2)[:, None, None]
        return np.asarray(c * np.eye(4) - 1j * s * pauli, dtype=np.complex128)

    return build


_X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
_Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
_Z = np.array([[1, 0], [0, -1]], dtype=np.complex128)

#: Gates whose matrices are computed for a whole sweep at once, keyed by name.
VECTORISED: Mapping[str, Callable[..., Matrices]] = {
    "rx": _rx,
    "ry": _ry,
    "rz": _rz,
    "p": _phase,
    "u1": _phase,
    "u": _u,
    "u3": _u,
    "rzz": _rzz,
    "rxx": _rotation_2q(np.kron(_X, _X)),
    "ryy": _rotation_2q(np.kron(_Y, _Y)),
    # RZX(t) = exp(-i t/2 X⊗Z) with Z on qargs[0]: kron puts qargs[1] first.
    "rzx": _rotation_2q(np.kron(_X, _Z)),
    "cp": _cp,
    "cu1": _cp,
    "crx": _controlled(_rx),
    "cry": _controlled(_ry),
    "crz": _controlled(_rz),
}


@lru_cache(maxsize=1)
def _standard_classes() -> Mapping[str, type]:
    return {name: type(gate) for name, gate in get_standard_gate_name_mapping().items()}


def _is_standard(gate: Gate) -> bool:
    return _standard_classes().get(gate.name) is type(gate)


def is_vectorised(gate: Gate) -> bool:
    """Whether the gate's matrices over a sweep have a formula here."""
    return gate.name in VECTORISED and _is_standard(gate)


@lru_cache(maxsize=4096)
def _fixed_standard_matrix(name: str, params: tuple[float, ...]) -> Matrices:
    gate = get_standard_gate_name_mapping()[name]
    bound = gate.copy() if not params else type(gate)(*params)
    return np.asarray(Operator(bound).data, dtype=np.complex128)[None]


def parameter_values(
    expression: Any, names: Mapping[Parameter, int], values: NDArray[np.float64]
) -> Values | float:
    """A gate parameter over the sweep: a float if it is fixed, else one value per set.
    ``values`` has shape ``(B, P)``; ``names`` gives each circuit parameter's column."""
    if not isinstance(expression, ParameterExpression):
        return float(expression)
    if not expression.parameters:
        return float(expression.numeric())
    if isinstance(expression, Parameter):
        return np.asarray(values[:, names[expression]], dtype=np.float64)
    ordered = list(expression.parameters)
    columns = [values[:, names[p]] for p in ordered]
    out = np.empty(values.shape[0], dtype=np.float64)
    for b in range(values.shape[0]):
        bound = expression.bind({p: float(col[b]) for p, col in zip(ordered, columns, strict=True)})
        out[b] = float(bound.numeric())
    return out


def gate_matrices(
    gate: Gate, names: Mapping[Parameter, int], values: NDArray[np.float64]
) -> Matrices:
    """The gate's matrix for every parameter set: shape ``(1, d, d)`` when it does not depend
    on the sweep, else ``(B, d, d)``."""
    if not any(isinstance(p, ParameterExpression) and p.parameters for p in gate.params):
        if _is_standard(gate):
            fixed = tuple(float(p) for p in gate.params)
            return _fixed_standard_matrix(gate.name, fixed)
        return np.asarray(Operator(gate).data, dtype=np.complex128)[None]
    params = [parameter_values(p, names, values) for p in gate.params]
    swept = [p for p in params if isinstance(p, np.ndarray)]
    size = swept[0].size
    columns = [p if isinstance(p, np.ndarray) else np.full(size, p) for p in params]
    build = VECTORISED.get(gate.name)
    if build is not None and _is_standard(gate):
        return np.ascontiguousarray(build(*columns), dtype=np.complex128)
    return np.stack([_bound_matrix(gate, [float(c[b]) for c in columns]) for b in range(size)])


def _bound_matrix(gate: Gate, params: Sequence[float]) -> NDArray[np.complex128]:
    bound = gate.to_mutable()
    bound.params = list(params)
    return np.asarray(Operator(bound).data, dtype=np.complex128)
