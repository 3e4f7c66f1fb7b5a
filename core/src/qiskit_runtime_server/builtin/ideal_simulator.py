"""Built-in plugin: one ideal device, noiseless with all-to-all connectivity.

It is a ``simulator: true`` device, like IBM's former cloud simulators: the client skips ISA
checks (untranspiled circuits are fine) and does not open server-side sessions for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend_description import BackendDescription
from ..document_backend import DocumentDescription
from ..hookspecs import hookimpl

IDEAL_SIMULATOR_NAME = "ideal_simulator"
IDEAL_SIMULATOR_QUBITS = 5000

# (name, parameter names). Parameterised gates other than rz/p are hidden by the client unless
# the user asks for fractional gates, exactly as on IBM backends.
_GATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id", ()), ("x", ()), ("y", ()), ("z", ()), ("h", ()), ("s", ()), ("sdg", ()),
    ("t", ()), ("tdg", ()), ("sx", ()), ("sxdg", ()), ("rz", ("theta",)), ("p", ("theta",)),
    ("rx", ("theta",)), ("ry", ("theta",)), ("u", ("theta", "phi", "lam")),
    ("cx", ()), ("cy", ()), ("cz", ()), ("ecr", ()), ("swap", ()), ("iswap", ()),
    ("cp", ("theta",)), ("rzz", ("theta",)), ("rxx", ("theta",)), ("ryy", ("theta",)),
    ("ccx", ()), ("cswap", ()),
)  # fmt: skip
_NON_UNITARY = ("measure", "reset", "delay")
_CONTROL_FLOW = ("if_else", "while_loop", "for_loop", "switch_case")


def ideal_configuration(num_qubits: int = IDEAL_SIMULATOR_QUBITS) -> dict[str, Any]:
    """The configuration document of the ideal simulator, with every field that IBM's
    configurations (all 68 fake devices') carry: the client reads ``meas_map`` as
    ``backend.meas_map``, and any other through ``backend.configuration()``."""
    basis = [name for name, _ in _GATES]
    return {
        "backend_name": IDEAL_SIMULATOR_NAME,
        "backend_version": "1.0.0",
        "description": f"Ideal {num_qubits}-qubit simulator: noiseless, all-to-all connectivity",
        "n_qubits": num_qubits,
        "basis_gates": basis,
        "gates": [
            {"name": name, "parameters": list(params), "qasm_def": ""} for name, params in _GATES
        ],
        "supported_instructions": [*basis, *_NON_UNITARY, *_CONTROL_FLOW],
        "supported_features": ["qasm3"],
        "local": False,
        "simulator": True,
        "conditional": True,
        "open_pulse": False,
        "memory": True,
        "max_shots": 10_000_000,
        "max_experiments": 300,
        "coupling_map": None,
        "online_date": "2024-01-01T00:00:00+00:00",
        "dt": 0.2222222222222222,
        "dtm": 0.2222222222222222,
        "processor_type": {"family": "Simulator", "revision": "1"},
        # Measurements are not multiplexed: any qubit is measured on its own (IBM's devices
        # measure all their qubits together: one group of every qubit).
        "meas_map": [[qubit] for qubit in range(num_qubits)],
        "meas_levels": [2],
        "multi_meas_enabled": True,
        "dynamic_reprate_enabled": False,
        "sample_name": "ideal simulator",
        "n_registers": 1,
        "credits_required": False,
        "allow_q_object": False,
        "quantum_volume": None,
        "url": "None",
    }


@hookimpl
def qiskit_runtime_backend_descriptions() -> Sequence[BackendDescription]:
    return [DocumentDescription(IDEAL_SIMULATOR_NAME, ideal_configuration())]
