"""What the server serves for a fake device where its snapshot files fall short of IBM.

The snapshot files of ``qiskit_ibm_runtime.fake_provider`` are served as they are, with two
exceptions, each applied to the configuration and the properties together so that the client's
Target, the server's ISA check and the executors' noise models agree:

- **The pre-2021 basis** (``u1``, ``u2``, ``u3``) is served as the basis IBM moved every device
  to in 2021 (``rz``, ``sx``, ``x``). The client keeps no parameterised gate other than ``rz``,
  ``p`` and ``u1`` unless fractional gates are asked for, so from the snapshot's documents it
  cannot translate even a Hadamard for these devices. Each new gate takes the calibration of
  the old gate that is the same pulse sequence: ``rz`` that of ``u1`` (virtual, no error),
  ``sx`` that of ``u2`` (one pulse), ``x`` that of ``u3`` (the old basis played an X as a
  ``u3``), so a circuit keeps the noise local testing mode gives it.
- **Fractional gates** (``rx`` and ``rzz``) that a snapshot calibrates but whose configuration
  omits them are offered, as on IBM's Heron devices: the client shows them with
  ``service.backend(name, use_fractional_gates=True)`` and hides them otherwise. Their errors
  and durations are the snapshot's own calibration of those gates on those qubits.

Each change is recorded in the configuration's ``description`` so that a user can see it.
"""

from __future__ import annotations

import copy
from typing import Any

#: The pre-2021 basis gates and the gate of today's basis with the same pulses.
MODERN_BASIS = {"u1": "rz", "u2": "sx", "u3": "x"}
#: IBM's fractional gates (the client hides them unless asked).
FRACTIONAL_GATES = ("rx", "rzz")
_PARAMETERS = {"rz": ["theta"], "sx": [], "x": [], "rx": ["theta"], "rzz": ["theta"]}


def served_documents(
    configuration: dict[str, Any], properties: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The documents to serve for a snapshot (new objects; the inputs are not changed)."""
    configuration = copy.deepcopy(configuration)
    properties = copy.deepcopy(properties)
    notes: list[str] = []
    if any(name in MODERN_BASIS for name in configuration.get("basis_gates", [])):
        _modernise_basis(configuration, properties)
        notes.append(
            "Served in IBM's basis since 2021 (rz, sx, x): the snapshot's u1, u2 and u3 "
            "calibrations are those of rz, sx and x."
        )
    offered = _offer_fractional_gates(configuration, properties)
    if offered:
        notes.append(
            f"Fractional gates {', '.join(offered)} are offered with the snapshot's own "
            "calibration of them (service.backend(name, use_fractional_gates=True))."
        )
    if notes:
        description = str(configuration.get("description") or "").strip()
        configuration["description"] = " ".join(filter(None, [description, *notes]))
    return configuration, properties


def _modernise_basis(configuration: dict[str, Any], properties: dict[str, Any] | None) -> None:
    def renamed(names: list[str]) -> list[str]:
        return list(dict.fromkeys(MODERN_BASIS.get(name, name) for name in names))

    configuration["basis_gates"] = renamed(configuration["basis_gates"])
    if configuration.get("supported_instructions"):
        configuration["supported_instructions"] = renamed(configuration["supported_instructions"])
    gates: dict[str, dict[str, Any]] = {}
    for gate in configuration.get("gates", []):
        name = MODERN_BASIS.get(gate["name"], gate["name"])
        if name in gates:  # the snapshot lists both (``x`` next to ``u3``): keep the first
            continue
        if name != gate["name"]:
            gate = {**gate, "name": name, "parameters": _PARAMETERS[name], "qasm_def": None}
        gates[name] = gate
    configuration["gates"] = list(gates.values())
    if properties:
        for gate in properties.get("gates", []):
            new = MODERN_BASIS.get(gate["gate"])
            if new:
                gate["gate"] = new
                gate["name"] = new + "_".join(str(q) for q in gate["qubits"])


def _offer_fractional_gates(
    configuration: dict[str, Any], properties: dict[str, Any] | None
) -> list[str]:
    """Add the fractional gates that ``properties`` calibrates; return their names."""
    if not properties:
        return []
    offered: list[str] = []
    for name in FRACTIONAL_GATES:
        if name in configuration["basis_gates"]:
            continue
        qubits = [gate["qubits"] for gate in properties.get("gates", []) if gate["gate"] == name]
        if not qubits:
            continue
        configuration["basis_gates"].append(name)
        configuration.setdefault("gates", []).append(
            {
                "name": name,
                "parameters": _PARAMETERS[name],
                "qasm_def": None,
                "coupling_map": qubits,
            }
        )
        if configuration.get("supported_instructions") is not None:
            configuration["supported_instructions"].append(name)
        offered.append(name)
    return offered
