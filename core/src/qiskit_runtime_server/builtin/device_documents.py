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
- **Fractional gates** (``rx`` and ``rzz``) are offered on the Heron devices, as IBM offers
  them there: the client shows them with ``service.backend(name, use_fractional_gates=True)``
  and hides them otherwise. ``rx`` is offered on the qubits of ``sx``, ``rzz`` on the pairs of
  ``cz`` (the same kind of pulse). Each keeps the snapshot's own calibration where it has one;
  where it has none, or a placeholder (a ``gate_error`` of 1: a quarter of fake_fez's ``rzz``
  pairs, every pair of fake_torino's), the error and duration are derived from ``sx`` on that
  qubit or ``cz`` on that pair.

Each change is recorded in the configuration's ``description``, and the derived calibrations
are returned by instruction name so that results can say where their noise came from.
"""

from __future__ import annotations

import copy
from typing import Any

#: The pre-2021 basis gates and the gate of today's basis with the same pulses.
MODERN_BASIS = {"u1": "rz", "u2": "sx", "u3": "x"}
#: IBM's fractional gates (the client hides them unless asked) and the calibrated gate each
#: one's error and duration are derived from.
FRACTIONAL_GATES = {"rx": "sx", "rzz": "cz"}
#: The gate error IBM's snapshots give a gate they have no calibration of.
PLACEHOLDER_ERROR = 1.0
#: The processor family whose devices IBM offers fractional gates on.
FRACTIONAL_FAMILY = "Heron"
_PARAMETERS = {"rz": ["theta"], "sx": [], "x": [], "rx": ["theta"], "rzz": ["theta"]}


def served_documents(
    configuration: dict[str, Any], properties: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    """The documents to serve for a snapshot (new objects; the inputs are not changed), and the
    calibrations that are not the snapshot's own: instruction name -> where it comes from."""
    configuration = copy.deepcopy(configuration)
    properties = copy.deepcopy(properties)
    derived: dict[str, str] = {}
    if any(name in MODERN_BASIS for name in configuration.get("basis_gates", [])):
        _modernise_basis(configuration, properties)
        derived.update(
            {new: f"the snapshot's {old} calibration" for old, new in MODERN_BASIS.items()}
        )
    family = (configuration.get("processor_type") or {}).get("family")
    if properties and family == FRACTIONAL_FAMILY:
        derived.update(_offer_fractional_gates(configuration, properties))
    notes = [f"{name}: {source}." for name, source in derived.items()]
    if notes:
        description = str(configuration.get("description") or "").strip()
        configuration["description"] = " ".join(
            filter(None, [description, "Calibrations derived by qiskit-runtime-server:", *notes])
        )
    return configuration, properties, derived


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
            old = gate["gate"]
            if old in MODERN_BASIS:
                gate["gate"] = MODERN_BASIS[old]
                gate["name"] = _renamed(gate.get("name"), old, gate["gate"])


def _offer_fractional_gates(
    configuration: dict[str, Any], properties: dict[str, Any]
) -> dict[str, str]:
    """Add IBM's fractional gates on the qubits of the gates of the same pulses, with the
    snapshot's own calibration where it has one and that gate's where it has none or only a
    placeholder; return where the derived ones came from."""
    derived: dict[str, str] = {}
    for name, source in FRACTIONAL_GATES.items():
        calibrated = [gate for gate in properties["gates"] if gate["gate"] == source]
        if not calibrated:
            continue
        own = {
            tuple(gate["qubits"]): gate
            for gate in properties["gates"]
            if gate["gate"] == name and _error(gate) < PLACEHOLDER_ERROR
        }
        entries = [
            own.get(tuple(gate["qubits"]))
            or {
                **gate,
                "gate": name,
                "name": _renamed(gate.get("name"), source, name),
                "parameters": copy.deepcopy(gate["parameters"]),
            }
            for gate in calibrated
        ]
        properties["gates"] = [g for g in properties["gates"] if g["gate"] != name] + entries
        if name not in configuration["basis_gates"]:
            configuration["basis_gates"].append(name)
        configuration["gates"] = [g for g in configuration.get("gates", []) if g["name"] != name]
        configuration["gates"].append(
            {
                "name": name,
                "parameters": _PARAMETERS[name],
                "qasm_def": None,
                "coupling_map": [gate["qubits"] for gate in calibrated],
            }
        )
        supported = configuration.get("supported_instructions")
        if supported is not None and name not in supported:
            supported.append(name)
        missing = len(calibrated) - sum(tuple(g["qubits"]) in own for g in calibrated)
        if missing:
            where = "pair" if name == "rzz" else "qubit"
            derived[name] = (
                f"{source}'s calibration on each {where} where the snapshot has none or a "
                f"placeholder ({missing} of {len(calibrated)})"
            )
    return derived


def _error(gate: dict[str, Any]) -> float:
    """A properties entry's ``gate_error`` (1, IBM's placeholder, when it has none)."""
    for parameter in gate.get("parameters", []):
        if parameter.get("name") == "gate_error":
            return float(parameter["value"])
    return PLACEHOLDER_ERROR


def _renamed(entry_name: Any, old: str, new: str) -> str:
    """A properties entry's name (``u2_0``, ``cz72_73``) for the gate ``new``, in its scheme."""
    if isinstance(entry_name, str) and entry_name.startswith(old):
        return new + entry_name[len(old) :]
    return new
