"""Noise models: the device's, built from its calibration properties the way local testing
mode builds them, or the user's own (``options.simulator.noise_model``).

Aer serialises the whole noise model and parses it again in C++ on every run, which costs far
more than simulating a small circuit (about 45 ms per job on fake_manila, over a second on a
127-qubit device). A job only ever touches the errors of the qubits and instructions its
circuits use, so each job gets the device model restricted to those, built once per
(device, qubits, instructions) from those qubits' calibrations alone (the whole model of a
156-qubit device takes about ten seconds to build) and serialised once. Errors on other qubits
cannot act on the circuit (Aer adds no idle noise without explicit delays), so the restriction
is exact: with the same seed it gives the same counts as the full model.

For small circuits the primitives run Aer's density-matrix method, where each error acts as one
channel whatever its form. Device errors are mixtures of up to 144 circuits (depolarizing
composed with thermal relaxation on two qubits), which Aer converts at every run; giving each
error as a single Kraus channel instead is the same channel and makes the run about seven
times faster. (For trajectory methods the mixture form is the cheaper one, so it is kept.)
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import Delay
from qiskit.quantum_info import Kraus
from qiskit_aer.noise import NoiseModel, QuantumError, RelaxationNoisePass
from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors
from qiskit_ibm_runtime.models.exceptions import BackendPropertyError
from qiskit_runtime_server import BackendDescription
from qiskit_runtime_server.circuits import active_qubits, instruction_names

#: Models on a job's qubits, and their restrictions, kept per process (each is small).
RESTRICTED_CACHE_SIZE = 256


class SerialisedOnceNoiseModel(NoiseModel):  # type: ignore[misc]  # qiskit-aer is untyped
    """A noise model that is never changed after it is built, so Aer's per-run
    ``to_dict(serializable=True)`` can be computed once."""

    _serialised: dict[str, Any] | None = None

    def to_dict(self, serializable: bool = False) -> dict[str, Any]:
        if not serializable:
            result: dict[str, Any] = super().to_dict(False)
            return result
        if self._serialised is None:
            self._serialised = super().to_dict(serializable=True)
        return self._serialised


def restrict(
    model: NoiseModel,
    qubits: Iterable[int],
    names: Iterable[str] | None,
    *,
    as_channels: bool = False,
    mapping: dict[int, int] | None = None,
) -> NoiseModel:
    """``model`` without errors on other qubits or, if ``names`` is given, on other
    instructions; with ``as_channels``, each error as a single Kraus channel (see the module
    docstring); with ``mapping``, on qubit ``mapping[q]`` what was on ``q`` (for circuits
    whose qubits were renumbered)."""
    keep = set(qubits)

    def moved(error_qubits: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(mapping[q] for q in error_qubits) if mapping else tuple(error_qubits)

    used = set(names) if names is not None else set(model._noise_instructions)

    def form(error: QuantumError) -> QuantumError:
        return QuantumError(Kraus(error)) if as_channels else error

    restricted = SerialisedOnceNoiseModel(basis_gates=model.basis_gates)
    for name, errors in model._local_quantum_errors.items():
        if name in used:
            for error_qubits, error in errors.items():
                if set(error_qubits) <= keep:
                    restricted.add_quantum_error(
                        form(error), name, moved(error_qubits), warnings=False
                    )
    for name, error in model._default_quantum_errors.items():
        if name in used:
            restricted.add_all_qubit_quantum_error(form(error), name, warnings=False)
    for error_qubits, error in model._local_readout_errors.items():
        if set(error_qubits) <= keep:
            restricted.add_readout_error(error, moved(error_qubits), warnings=False)
    if model._default_readout_error is not None:
        restricted.add_all_qubit_readout_error(model._default_readout_error, warnings=False)
    restricted._custom_noise_passes = list(model._custom_noise_passes)
    return restricted


class NoiseModelCache:
    """Device noise models on the qubits jobs use, keyed by description name (descriptions are
    immutable), and their restrictions to the instructions of a job's circuits."""

    def __init__(self) -> None:
        self._on_qubits: OrderedDict[tuple[str, frozenset[int]], NoiseModel] = OrderedDict()
        self._restricted: OrderedDict[
            tuple[str, frozenset[int], frozenset[str] | None, bool, tuple[int, ...] | None],
            NoiseModel,
        ]
        self._restricted = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def has_device_noise(description: BackendDescription) -> bool:
        """Whether the device has a noise model (calibration properties); builds none."""
        return description.has_noise and description.backend().properties() is not None

    def on_qubits(self, description: BackendDescription, qubits: Iterable[int]) -> NoiseModel:
        """The device's noise model (local testing mode's) with only its errors on ``qubits``,
        built from those qubits' calibrations alone: the whole model of a 156-qubit device
        takes about ten seconds. Requires :meth:`has_device_noise`."""
        key = (description.name, frozenset(qubits))
        with self._lock:
            model = self._on_qubits.get(key)
            if model is not None:
                self._on_qubits.move_to_end(key)
                return model
        model = _build(description, key[1])
        if model is None:
            raise ValueError(f"{description.name} has no calibration properties")
        with self._lock:
            self._on_qubits[key] = model
            while len(self._on_qubits) > RESTRICTED_CACHE_SIZE:
                self._on_qubits.popitem(last=False)
        return model

    def for_circuits(
        self,
        description: BackendDescription,
        circuits: Iterable[QuantumCircuit],
        *,
        extra_qubits: Iterable[int] = (),
        by_instruction: bool = True,
        as_channels: bool = False,
        mapping: dict[int, int] | None = None,
    ) -> NoiseModel | None:
        """The device's noise model restricted to what ``circuits`` use, plus
        ``extra_qubits``. ``by_instruction=False`` keeps every instruction's errors, for
        primitives that append instructions of their own (the estimator's basis changes);
        ``as_channels`` gives each error as one Kraus channel (density-matrix runs);
        ``mapping`` renumbers qubits (MPS runs along a circuit's chain, see layout.py)."""
        if not self.has_device_noise(description):
            return None
        qubits: set[int] = set(extra_qubits)
        names: set[str] = set()
        for circuit in circuits:
            qubits.update(active_qubits(circuit))
            names |= instruction_names(circuit)
        key = (
            description.name,
            frozenset(qubits),
            frozenset(names) if by_instruction else None,
            as_channels,
            tuple(mapping.get(q, -1) for q in sorted(qubits)) if mapping else None,
        )
        with self._lock:
            restricted = self._restricted.get(key)
            if restricted is not None:
                self._restricted.move_to_end(key)
                return restricted
        restricted = restrict(
            self.on_qubits(description, qubits),
            qubits,
            names if by_instruction else None,
            as_channels=as_channels,
            mapping=mapping,
        )
        with self._lock:
            self._restricted[key] = restricted
            while len(self._restricted) > RESTRICTED_CACHE_SIZE:
                self._restricted.popitem(last=False)
        return restricted


def _build(
    description: BackendDescription, qubits: frozenset[int] | None = None
) -> NoiseModel | None:
    """The model local testing mode simulates a fake device with; with ``qubits``, only its
    errors on those qubits (the same errors, built without the rest of the device).

    This follows ``FakeBackendV2._get_noise_model_from_backend_v2`` step by step, with Aer's
    public builders: readout errors are the asymmetric ``prob_meas1_prep0`` /
    ``prob_meas0_prep1`` (``NoiseModel.from_backend`` would take the target's symmetric
    measurement errors, which a chi-square test against local mode rejects,
    tests/e2e/test_sampler.py); gate errors are depolarizing composed with thermal relaxation;
    delays relax through a noise pass. ``NoiseModel.from_backend_properties`` cannot be used: it
    requires every qubit's ``frequency``, which the Heron snapshots do not carry (it raises
    ``BackendPropertyError`` on all of them), whereas local mode builds the delay pass without
    excited-state populations (at its zero temperature they are zero anyway).
    """
    if not description.has_noise:
        return None
    backend = description.backend()
    properties = backend.properties()
    if properties is None:
        return None
    model = NoiseModel(basis_gates=list(description.configuration()["basis_gates"]))
    for readout_qubits, readout in basic_device_readout_errors(properties):
        if qubits is None or set(readout_qubits) <= qubits:
            model.add_readout_error(readout, readout_qubits, warnings=False)
    gates = properties
    if qubits is not None:  # Aer's builder reads the gates list only: give it a shorter one
        gates = copy.copy(properties)
        gates.gates = [gate for gate in properties.gates if set(gate.qubits) <= qubits]
    with warnings.catch_warnings():
        # Aer warns about T2 > 2 T1 in some snapshots (and truncates); local mode silences
        # that module the same way.
        warnings.filterwarnings("ignore", module="qiskit_aer.noise.device.models")
        gate_errors = basic_device_gate_errors(gates)
    for name, qubits, error in gate_errors:
        model.add_quantum_error(error, name, qubits, warnings=False)
    try:
        num_qubits = description.num_qubits
        t1s = [properties.t1(q) for q in range(num_qubits)]
        relaxation = RelaxationNoisePass(
            t1s=t1s,
            # Physical T2 is at most 2 T1. Some snapshots (fake_kolkata) say more, which Aer's
            # pass refuses at the first delay (local mode fails there: NoiseError); truncated
            # as Aer's gate-error builder truncates it.
            t2s=[min(properties.t2(q), 2 * t1s[q]) for q in range(num_qubits)],
            dt=backend.dt,
            op_types=Delay,
        )
    except BackendPropertyError:
        pass  # a snapshot without T1 or T2 on some qubit: delays stay ideal, as in local mode
    else:
        model._custom_noise_passes.append(relaxation)
    return model


def user_noise_model(value: Any) -> NoiseModel:
    """``options.simulator.noise_model`` as sent: a decoded NoiseModel, or its dict form."""
    if isinstance(value, NoiseModel):
        return value
    if isinstance(value, dict):
        try:
            return NoiseModel.from_dict(value)
        except Exception as exc:
            raise ValueError(
                f"options.simulator.noise_model is not a valid noise model: {exc}"
            ) from None
    raise ValueError(
        f"options.simulator.noise_model must be a qiskit_aer NoiseModel, got {type(value).__name__}"
    )


#: Instructions of a quantum error's circuits that make it a Pauli channel.
PAULI_ERROR_INSTRUCTIONS = frozenset({"id", "x", "y", "z", "pauli"})


def is_pauli_noise(model: NoiseModel) -> bool:
    """Whether every gate error of ``model`` is a mixture of Pauli operators (readout errors
    are classical and allowed): such noise runs on the stabilizer method with Clifford
    circuits. A Kraus or reset error is not, even where it could be rewritten as one."""
    errors = list(model._default_quantum_errors.values())
    for by_qubits in model._local_quantum_errors.values():
        errors += by_qubits.values()
    return all(
        instruction.operation.name in PAULI_ERROR_INSTRUCTIONS
        for error in errors
        for circuit in error.circuits
        for instruction in circuit.data
    )
