"""Error mitigation for ``estimator`` jobs (the legacy ``EstimatorV2``) on noisy backends.

IBM's ``EstimatorV2`` mitigates on the server: resilience level 1 (its default) twirls the
measurements and applies TREX, level 2 adds gate twirling and ZNE by gate folding, and the
``resilience``, ``twirling`` and ``dynamical_decoupling`` options tune or add to that. The
client package already holds all of it for its client-side estimator
(``qiskit_ibm_runtime.executor_estimator``): ``prepare`` turns PUBs and options into a
QuantumProgram with samplomatic and qiskit-mitigation, and the estimator's post-processor turns
the program's result into mitigated values. This module runs those same functions here, in the
worker, on the job's PUBs and options, and runs the program as the ``executor`` program does
(``quantum_program.py``: one sampler task on the backend's executor, with the device's noise).
Nothing of the mitigation is written twice; what is written here is the mapping from the
legacy options and the legacy result's form.

It applies where mitigation has something to act on: the job's backend simulates noise (a fake
device on an executor that simulates noise, or a user's ``simulator.noise_model`` that the
executor honours), the executor samples circuits, and the options ask for any twirling,
mitigation or decoupling. Elsewhere the estimator runs as before and those options are listed
in ``ignored_options``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit.primitives import PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub

from ..errors import InvalidRequest
from ..metadata import add_server_metadata
from ..results import conform
from ..tasks import EstimatorTask, SamplerTask
from .prepared import JobRun
from .quantum_program import (
    ProgramItem,
    QuantumProgramJob,
    SampledItem,
    item_arrays,
    sample_items,
)

if TYPE_CHECKING:
    from qiskit.providers import BackendV2
    from qiskit_ibm_runtime.options_models import EstimatorOptions
    from qiskit_ibm_runtime.quantum_program import QuantumProgram

    from ..catalogue import VirtualBackend

#: Option sections of the legacy estimator that the client's ``options_models.EstimatorOptions``
#: has, field for field (IBM kept the names): these are mapped and honoured.
_MAPPED_SECTIONS: Mapping[str, frozenset[str]] = {
    "twirling": frozenset(
        {"enable_gates", "enable_measure", "num_randomizations", "shots_per_randomization"}
        | {"strategy"}
    ),
    "dynamical_decoupling": frozenset(
        {"enable", "sequence_type", "extra_slack_distribution", "scheduling_method"}
        | {"skip_reset_qubits"}
    ),
    "resilience": frozenset(
        {"measure_mitigation", "zne_mitigation", "pec_mitigation", "layer_noise_model"}
    ),
    "resilience.zne": frozenset(
        {"amplifier", "noise_factors", "extrapolator", "extrapolated_noise_factors"}
    ),
    "resilience.pec": frozenset({"max_overhead", "noise_gain"}),
    "resilience.measure_noise_learning": frozenset({"num_randomizations"}),
}

#: Options of the legacy estimator that the client's models lack and that the server applies
#: itself: which layers PEC and PEA learn, and the shots of the TREX calibration.
_SERVER_SECTIONS: Mapping[str, frozenset[str]] = {
    "resilience.layer_noise_learning": frozenset({"max_layers_to_learn"}),
    "resilience.measure_noise_learning": frozenset({"shots_per_randomization"}),
}

#: IBM's default of ``resilience.layer_noise_learning.max_layers_to_learn``.
DEFAULT_MAX_LAYERS_TO_LEARN = 4

_EXPERIMENT_REASON = (
    "it steers IBM's layer-noise learning experiment, which the server does not run: PEC and "
    "PEA get the rates that experiment converges to, computed exactly from the executor's "
    "noise model as the noise-learner program computes them, which no setting of the "
    "experiment changes"
)

#: Options a mitigated run never applies, and why (in the job's log and the result's
#: ``metadata["qiskit_runtime_server"]["ignored_option_reasons"]``).
NOT_APPLIED_REASONS: Mapping[str, str] = {
    "resilience.layer_noise_learning.num_randomizations": _EXPERIMENT_REASON,
    "resilience.layer_noise_learning.shots_per_randomization": _EXPERIMENT_REASON,
    "resilience.layer_noise_learning.layer_pair_depths": _EXPERIMENT_REASON,
}

_GIVEN_MODEL_REASON = (
    "resilience.layer_noise_model is given, so no layer noise is learned (as on IBM: its "
    "layers are used, and layers it lacks are not mitigated)"
)


def _reason(path: str) -> str | None:
    """Why a mitigated run does not apply the option at ``path`` (None: not a mitigation
    option)."""
    for prefix, reason in NOT_APPLIED_REASONS.items():
        if path == prefix or path.startswith(f"{prefix}."):
            return reason
    return None


def _has_layer_noise_model(options: Mapping[str, Any] | None) -> bool:
    resilience = (options or {}).get("resilience")
    return isinstance(resilience, Mapping) and resilience.get("layer_noise_model") is not None


def honoured_paths(paths: Sequence[str], options: Mapping[str, Any] | None = None) -> list[str]:
    """The paths among ``paths`` (options the job set) that a mitigated run applies.
    ``options`` (the job's) matter for one: ``max_layers_to_learn`` is not applied where a
    ``layer_noise_model`` is given, since nothing is learned then."""
    honoured = []
    given_model = _has_layer_noise_model(options)
    for path in paths:
        if path == "resilience_level":
            honoured.append(path)
            continue
        if given_model and path == "resilience.layer_noise_learning.max_layers_to_learn":
            continue
        section, _, name = path.rpartition(".")
        if name in _MAPPED_SECTIONS.get(section, ()) or name in _SERVER_SECTIONS.get(section, ()):
            honoured.append(path)
    return honoured


def not_applied_reasons(
    paths: Sequence[str], options: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Why a mitigated run does not apply each of ``paths`` (ignored options of the job),
    for those whose reason is known."""
    reasons: dict[str, str] = {}
    for path in paths:
        reason = _reason(path)
        if path == "resilience.layer_noise_learning.max_layers_to_learn" and (
            _has_layer_noise_model(options)
        ):
            reason = _GIVEN_MODEL_REASON
        if reason:
            reasons[path] = reason
    return reasons


@dataclass(frozen=True)
class LearningOptions:
    """The legacy options the server applies itself (see ``_SERVER_SECTIONS``)."""

    #: At most this many unique layers are learned for PEC and PEA (None: all).
    max_layers_to_learn: int | None = DEFAULT_MAX_LAYERS_TO_LEARN
    #: Shots per randomization of the TREX calibration (None: ``"auto"``, the job's).
    trex_shots_per_randomization: int | None = None


def learning_options(options: Mapping[str, Any]) -> LearningOptions:
    """The job's ``resilience.layer_noise_learning`` and ``measure_noise_learning`` options,
    checked as the legacy client's ``LayerNoiseLearningOptions`` and
    ``MeasureNoiseLearningOptions`` check them (``max_layers_to_learn`` >= 0 or None,
    randomizations and shots >= 1, depths >= 0; shots per randomization an int or "auto"):
    InvalidRequest (400) otherwise. Called for every estimator job, mitigated or not."""
    from pydantic import ValidationError
    from qiskit_ibm_runtime.options.layer_noise_learning_options import (
        LayerNoiseLearningOptions,
    )
    from qiskit_ibm_runtime.options.measure_noise_learning_options import (
        MeasureNoiseLearningOptions,
    )

    resilience = options.get("resilience")
    if resilience is None:
        return LearningOptions()
    if not isinstance(resilience, Mapping):
        raise InvalidRequest("'resilience' must be an object")
    checked: dict[str, Any] = {}
    for name, model in (
        ("layer_noise_learning", LayerNoiseLearningOptions),
        ("measure_noise_learning", MeasureNoiseLearningOptions),
    ):
        section = resilience.get(name)
        if section is None:
            checked[name] = {}
            continue
        if not isinstance(section, Mapping):
            raise InvalidRequest(f"'resilience.{name}' must be an object")
        known = {key: value for key, value in section.items() if key in model.__annotations__}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # IBM's deprecation of an int's shots
                model(**known)
        except (ValidationError, TypeError, ValueError) as error:
            raise InvalidRequest(
                f"invalid 'resilience.{name}' options: {_first_error(error)}"
            ) from None
        checked[name] = known
    layers = checked["layer_noise_learning"].get("max_layers_to_learn", DEFAULT_MAX_LAYERS_TO_LEARN)
    shots = checked["measure_noise_learning"].get("shots_per_randomization", "auto")
    return LearningOptions(
        max_layers_to_learn=None if layers is None else int(layers),
        trex_shots_per_randomization=None if shots == "auto" else int(shots),
    )


def _first_error(error: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in error.errors()[:3]
        )
    return str(error)


def client_options(options: Mapping[str, Any]) -> EstimatorOptions:
    """The client-side estimator's options (``options_models.EstimatorOptions``) for the legacy
    job's ``options``: ``resilience_level`` and every mapped field as sent; the rest keep the
    client's defaults, which are IBM's. Raises InvalidRequest for values the client's models
    refuse (the legacy client checks the same ranges before sending)."""
    from pydantic import ValidationError
    from qiskit_ibm_runtime.options_models import EstimatorOptions

    mapped: dict[str, Any] = {}
    if "resilience_level" in options:
        mapped["resilience_level"] = options["resilience_level"]
    for section, names in _MAPPED_SECTIONS.items():
        source: Any = options
        for part in section.split("."):
            source = source.get(part) if isinstance(source, Mapping) else None
        if not isinstance(source, Mapping):
            continue
        target = mapped
        for part in section.split("."):
            target = target.setdefault(part, {})
        # The legacy layer_noise_model (LayerErrors) is mapped onto the client's layers later.
        target.update(
            {
                name: value
                for name, value in source.items()
                if name in names and name != "layer_noise_model"
            }
        )
    try:
        return EstimatorOptions.model_validate(mapped)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in error.errors()[:3]
        )
        raise InvalidRequest(f"invalid estimator options: {details}") from None


def applies(finalized: EstimatorOptions) -> bool:
    """Whether the finalized options ask for anything a mitigated run does."""
    resilience, twirling = finalized.resilience, finalized.twirling
    return bool(
        resilience.measure_mitigation
        or resilience.zne_mitigation
        or resilience.pec_mitigation
        or twirling.enable_gates
        or twirling.enable_measure
        or finalized.dynamical_decoupling.enable
    )


def finalize(options: EstimatorOptions) -> EstimatorOptions:
    """IBM's defaults of the resilience level, and the twirling that mitigation needs."""
    from qiskit_ibm_runtime.executor_estimator.finalize_options import (
        finalize_estimator_options,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # forced twirling: said in the result's metadata
        return finalize_estimator_options(options)


@dataclass(frozen=True)
class _Group:
    """PUBs of one precision (the client's estimator runs one precision per program)."""

    indices: tuple[int, ...]
    precision: float
    program: QuantumProgram
    job: QuantumProgramJob
    num_randomizations: int
    shots_per_randomization: int


#: A layer on the device, whatever group's circuits it was found in: its qubits (ascending)
#: and its undressed gates by name and physical qubits.
Signature = tuple[tuple[int, ...], tuple[tuple[str, tuple[int, ...]], ...]]


@dataclass(frozen=True)
class UniqueLayer:
    """A unique gate layer of a group's (narrowed) circuits, as the client's
    ``find_combined_unique_layers`` finds it, and how often it occurs in them."""

    #: The undressed box instruction on the narrowed circuits' qubits.
    instruction: Any
    #: The device's qubit of each of the box's qubits (in the box's order).
    physical: tuple[int, ...]
    occurrences: int

    @property
    def signature(self) -> Signature:
        body = self.instruction.operation.body
        gates = sorted(
            (
                op.operation.name,
                tuple(self.physical[body.find_bit(q).index] for q in op.qubits),
            )
            for op in body.data
            if op.operation.name != "barrier"
        )
        return tuple(sorted(self.physical)), tuple(gates)

    @property
    def two_qubit_gates(self) -> int:
        return sum(1 for _, qubits in self.signature[1] if len(qubits) == 2)


def _group_pubs(
    pubs: Sequence[EstimatorPub], indices: tuple[int, ...], device: BackendV2 | None
) -> tuple[list[EstimatorPub], tuple[int, ...], int]:
    """A group's PUBs narrowed to the qubits they run on, those qubits, and the circuits'
    width on the device.

    The client measures (and twirls, and calibrates) every qubit of a PUB's circuit, the
    idle ones of a device-wide ISA circuit too: they run on the qubits that act instead (the
    same for the whole group, which shares one TREX calibration), and the program's circuits
    are put back on the device's qubits after. Decoupling times the idle periods of physical
    qubits: with it the circuits keep every qubit."""
    group = [pubs[i] for i in indices]
    width = max(pub.circuit.num_qubits for pub in group)
    qubits = tuple(range(width)) if device is not None else _acting_qubits(group)
    return [_narrowed(pub, qubits) for pub in group], qubits, width


def _prepare_group(
    pubs: Sequence[EstimatorPub],
    indices: tuple[int, ...],
    precision: float,
    options: EstimatorOptions,
    device: BackendV2 | None,
    noise: Mapping[Signature, Any],
    learning: LearningOptions = LearningOptions(),
) -> _Group:
    """One group's QuantumProgram. PEC and PEA inject the noise of every unique layer that
    ``noise`` has (learned, or the user's ``layer_noise_model``); the others get an identity
    map: not mitigated, nor amplified. At submission, where only the options are checked,
    ``noise`` is empty. The TREX calibration item runs ``learning``'s shots per
    randomization where it sets them."""
    from qiskit_ibm_runtime.exceptions import IBMInputValueError
    from qiskit_ibm_runtime.executor_estimator.prepare import prepare

    narrowed, qubits, width = _group_pubs(pubs, indices, device)
    if _injects_noise(options) and options.resilience.layer_noise_model is None:
        options = options.model_copy(deep=True)
        options.resilience.layer_noise_model = _layer_noise(narrowed, qubits, options, noise)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program, _ = prepare(narrowed, options, precision, add_tags=False, backend=device)
    except IBMInputValueError as error:
        raise InvalidRequest(f"the estimator options cannot be applied: {error}") from None
    program._semantic_role = "estimator_v2"
    calibration = _trex_item(program) if learning.trex_shots_per_randomization else None
    items = tuple(
        ProgramItem(
            circuit=_widened(item.circuit, qubits, width),
            shape=tuple(int(n) for n in getattr(item, "shape", ())),
            source=item,
            shots=learning.trex_shots_per_randomization if index == calibration else None,
        )
        for index, item in enumerate(program.items)
    )
    job = QuantumProgramJob(
        shots=program.shots,
        items=items,
        passthrough_data=program.passthrough_data,
        semantic_role="estimator_v2",
        ignored_options=(),
    )
    randomizations, per_randomization = _twirling_shots(
        finalize(options), math.ceil(1 / precision**2)
    )
    return _Group(indices, precision, program, job, randomizations, per_randomization)


def _trex_item(program: QuantumProgram) -> int | None:
    """The index of the program's TREX calibration item (qiskit-mitigation records it in the
    passthrough data), or None. Its post-processing reads the flip rates from the item's own
    data, whatever its shots (``TREX._compute_noise_model_0_1``: counts over the array's
    size), so it may run other shots than the PUBs' items."""
    passthrough = program.passthrough_data or {}
    for entry in passthrough.get("qiskit_mitigation", ()):
        if entry.get("mitigation") == "trex" and entry.get("program_item_index") is not None:
            return int(entry["program_item_index"])
    return None


def _injects_noise(options: EstimatorOptions) -> bool:
    """Whether the options ask for PEC or PEA, which inject learned layer noise."""
    resilience = finalize(options).resilience
    return bool(
        resilience.pec_mitigation
        or (resilience.zne_mitigation and resilience.zne.amplifier == "pea")
    )


def unique_layers(
    pubs: Sequence[EstimatorPub], qubits: tuple[int, ...], options: EstimatorOptions
) -> list[UniqueLayer]:
    """The unique gate layers of ``pubs`` (narrowed to ``qubits``) as the client's
    ``Estimator.find_unique_layers`` finds them, with the number of times each occurs in
    the PUBs' circuits (once per occurrence in a circuit, whatever the PUB's number of
    parameter sets): IBM's priority for learning. qiskit-mitigation gives the unique layers
    but no counts; they are counted here the way it compares boxes (samplomatic's
    ``BoxKey`` of the undressed box with normalized annotations)."""
    from qiskit.circuit import CircuitInstruction
    from qiskit_ibm_runtime.executor_estimator.prepare import choose_task_class
    from qiskit_ibm_runtime.executor_estimator.utils import estimator_options_to_boxing_options
    from qiskit_mitigation import find_combined_unique_layers
    from samplomatic.utils import undress_box
    from samplomatic.utils.box_key import BoxKey
    from samplomatic.utils.find_unique_box_instructions import default_normalize_annotations

    finalized = finalize(options)
    task_class = choose_task_class(finalized.resilience)
    boxing = estimator_options_to_boxing_options(
        finalized.twirling,
        measure_mitigation=bool(finalized.resilience.measure_mitigation),
        inject_noise=True,
        add_tags=True,
    )
    circuits = [pub.circuit for pub in pubs]
    layers = find_combined_unique_layers(
        circuits=circuits,
        mitigation_types=[task_class() for _ in pubs],
        custom_boxing_options=boxing,
        box_types="gates",
    )
    counts: dict[Any, int] = {BoxKey(layer): 0 for layer in layers}
    for circuit in circuits:
        # What find_combined_unique_layers does per circuit (its boxing is the task's own).
        for instruction in task_class()._box_circuit(circuit, boxing):
            if instruction.operation.name != "box":
                continue
            box = undress_box(instruction.operation)
            box.annotations = default_normalize_annotations(instruction.operation.annotations)
            key = BoxKey(CircuitInstruction(box, instruction.qubits, instruction.clbits))
            if key in counts:
                counts[key] += 1
    return [
        UniqueLayer(
            instruction=layer,
            physical=tuple(qubits[_bit_index(pubs, qubit)] for qubit in layer.qubits),
            occurrences=counts[BoxKey(layer)],
        )
        for layer in layers
    ]


def _layer_noise(
    pubs: Sequence[EstimatorPub],
    qubits: tuple[int, ...],
    options: EstimatorOptions,
    noise: Mapping[Signature, Any],
) -> list[Any]:
    """The unique gate layers of ``pubs``, each with its noise from ``noise`` (what IBM's
    estimator learns before PEC or PEA), or an identity map where ``noise`` lacks it."""
    from qiskit.quantum_info import PauliLindbladMap

    pairs = []
    for layer in unique_layers(pubs, qubits, options):
        found = noise.get(layer.signature)
        if found is None:
            found = PauliLindbladMap.identity(len(layer.physical))
        pairs.append((layer.instruction, found))
    return pairs


def _two_qubit_gates(circuit: Any, physical: Sequence[int]) -> set[tuple[str, tuple[int, ...]]]:
    """The two-qubit gates of ``circuit`` (its qubit k is ``physical[k]``), by name and
    physical qubits."""
    return {
        (
            instruction.operation.name,
            tuple(physical[circuit.find_bit(q).index] for q in instruction.qubits),
        )
        for instruction in circuit.data
        if instruction.operation.num_qubits == 2 and instruction.operation.name != "barrier"
    }


def _given_map(layer: Any, physical: tuple[int, ...], layer_errors: Sequence[Any]) -> Any:
    """The user's noise for a box (a ``PauliLindbladMap`` on the box's qubits in ascending
    physical order, as the noise learner gives it): that of the ``LayerError`` with the
    same two-qubit gates, its generators' terms on the box's qubits; None where none has."""
    from qiskit.quantum_info import PauliLindbladMap

    gates = _two_qubit_gates(layer.operation.body, physical)
    if not gates:
        return None
    local = {qubit: k for k, qubit in enumerate(sorted(physical))}
    for error in layer_errors:
        qubits = [int(q) for q in error.qubits]
        noise = error.error  # None: unknown or disabled
        if noise is None or _two_qubit_gates(error.circuit, qubits) != gates:
            continue
        terms = []
        for pauli, rate in zip(noise.generators, noise.rates, strict=True):
            support = [k for k in range(pauli.num_qubits) if str(pauli[k]) != "I"]
            if all(qubits[k] in local for k in support):
                label = "".join(str(pauli[k]) for k in support)
                terms.append((label, [local[qubits[k]] for k in support], float(rate)))
        return PauliLindbladMap.from_sparse_list(terms, num_qubits=len(physical))
    return None


def _bit_index(pubs: Sequence[EstimatorPub], qubit: Any) -> int:
    """The index of ``qubit`` in the (narrowed) circuits of ``pubs``, which share their
    qubits' indices."""
    from qiskit.circuit.exceptions import CircuitError

    for pub in pubs:
        try:
            return int(pub.circuit.find_bit(qubit).index)
        except CircuitError:
            continue
    raise ValueError(f"{qubit} is in none of the circuits")


def _acting_qubits(pubs: Sequence[EstimatorPub]) -> tuple[int, ...]:
    """The qubits that an instruction (other than a barrier) or an observable of any of
    ``pubs`` acts on, ascending; every qubit of a circuit with classical bits."""
    acting: set[int] = set()
    for pub in pubs:
        circuit = pub.circuit
        if circuit.num_clbits:
            acting.update(range(circuit.num_qubits))
            continue
        for instruction in circuit.data:
            if instruction.operation.name != "barrier":
                acting.update(circuit.find_bit(qubit).index for qubit in instruction.qubits)
        width = circuit.num_qubits
        for observable in pub.observables.ravel():
            for label in observable:
                acting.update(width - 1 - i for i, letter in enumerate(label) if letter != "I")
    return tuple(sorted(acting))


def _narrowed(pub: EstimatorPub, qubits: tuple[int, ...]) -> EstimatorPub:
    """``pub`` on ``qubits`` only (circuit qubit k is ``qubits[k]``); barriers lose the
    others. ``pub`` itself where ``qubits`` are all of its circuit's."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Barrier
    from qiskit.primitives.containers.observables_array import ObservablesArray

    circuit = pub.circuit
    if qubits == tuple(range(circuit.num_qubits)):
        return pub
    position = {qubit: k for k, qubit in enumerate(qubits)}
    narrow = QuantumCircuit(len(qubits), name=circuit.name, global_phase=circuit.global_phase)
    narrow.metadata = circuit.metadata
    for instruction in circuit.data:
        targets = [position.get(circuit.find_bit(q).index) for q in instruction.qubits]
        if instruction.operation.name == "barrier":
            kept = [k for k in targets if k is not None]
            if kept:
                narrow.append(Barrier(len(kept)), kept)
            continue
        narrow.append(instruction.operation, targets)
    width = circuit.num_qubits

    def narrow_label(label: str) -> str:
        return "".join(label[width - 1 - qubit] for qubit in reversed(qubits))

    def narrow_all(nested: Any) -> Any:
        if isinstance(nested, dict):
            return {narrow_label(label): coeff for label, coeff in nested.items()}
        return [narrow_all(element) for element in nested]

    observables = ObservablesArray(narrow_all(pub.observables.tolist()))
    return EstimatorPub(narrow, observables, pub.parameter_values, pub.precision)


def _widened(circuit: Any, qubits: tuple[int, ...], width: int) -> Any:
    """A program's circuit put back on the device's qubits: its qubit k on ``qubits[k]`` of a
    circuit of ``width`` qubits, classical bits as they were."""
    from qiskit import QuantumCircuit, QuantumRegister

    if qubits == tuple(range(width)) and circuit.num_qubits == width:
        return circuit
    wide = QuantumCircuit(QuantumRegister(width, "q"))
    wide.add_bits(circuit.clbits)
    for register in circuit.cregs:
        wide.add_register(register)
    wide.compose(circuit, qubits=list(qubits[: circuit.num_qubits]), inplace=True)
    return wide


def _twirling_shots(options: EstimatorOptions, shots: int) -> tuple[int, int]:
    """How ``prepare`` splits ``shots``: (randomizations, shots per randomization)."""
    from qiskit_ibm_runtime.executor.calculate_twirling_shots import calculate_twirling_shots
    from qiskit_ibm_runtime.executor_estimator.pec import calculate_pec_twirling_shots

    twirling = options.twirling
    if options.resilience.pec_mitigation:
        randomizations, per_randomization = calculate_pec_twirling_shots(
            shots, twirling.num_randomizations, twirling.shots_per_randomization
        )
        return int(randomizations), int(per_randomization)
    if twirling.enable_gates or twirling.enable_measure:
        randomizations, per_randomization = calculate_twirling_shots(
            shots, twirling.num_randomizations, twirling.shots_per_randomization
        )
        return int(randomizations), int(per_randomization)
    return 1, shots


@dataclass(frozen=True)
class MitigatedEstimator:
    """A legacy estimator job run as the client-side estimator's QuantumPrograms."""

    task: EstimatorTask
    options: EstimatorOptions
    groups: tuple[_Group, ...]
    #: The requested options (before IBM's level defaults), to prepare the groups again.
    requested: EstimatorOptions
    device: BackendV2 | None
    backend: VirtualBackend
    #: The ``LayerError``s of the job's ``resilience.layer_noise_model``; None where it gave
    #: none. An empty model is a model (IBM: nothing is learned, no layer is mitigated).
    layer_errors: tuple[Any, ...] | None = None
    #: The layer-learning and TREX-calibration options the server applies itself.
    learning: LearningOptions = LearningOptions()
    #: Why each ignored option of the job is not applied (where known).
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def circuits(self) -> list[Any]:
        return [item.circuit for group in self.groups for item in group.job.items]

    @property
    def executions(self) -> int:
        return sum(group.job.executions for group in self.groups)

    def runner(self, ignored_options: list[str]) -> Callable[[JobRun], str]:
        """What a worker calls to run the job: its result as RuntimeEncoder text."""
        from qiskit_ibm_runtime import RuntimeEncoder

        def run(job_run: JobRun) -> str:
            return json.dumps(self.result(job_run, ignored_options), cls=RuntimeEncoder)

        return run

    def result(self, job_run: JobRun, ignored_options: list[str]) -> PrimitiveResult:
        """Sample every group's program, run them all as one sampler task on the job's
        executor, and post-process each group as the client does."""
        task = self.task
        seed = task.options.seed_estimator
        if seed is None:
            seed = task.options.seed_simulator
        rng = np.random.default_rng(seed)
        groups = self.groups
        layer_report: dict[str, Any] | None = None
        if _injects_noise(self.requested):
            groups, layer_report = self._learned_groups(job_run)
        sampled = [sample_items(group.job, rng) for group in groups]
        sampler = SamplerTask(
            job_id=task.job_id,
            executor=task.executor,
            backend_name=task.backend_name,
            backend=task.backend,
            options=task.options,
            pubs=tuple(item.pub for items in sampled for item in items),
        )
        sampler = job_run.task(sampler)  # type: ignore[assignment]
        job_run.log(
            f"mitigation: {self._summary()}; {len(sampler.pubs)} circuits with "
            f"{sum(pub.size for pub in sampler.pubs)} parameter sets run on the "
            f"{task.executor!r} executor"
        )
        for path, reason in self.reasons.items():
            job_run.log(f"mitigation: option {path!r} is not applied: {reason}")
        for group, items in zip(groups, sampled, strict=True):
            calibration = _trex_item(group.program)
            if calibration is not None:
                # In the log, not the metadata: IBM's results have no such key.
                pub = items[calibration].pub
                job_run.log(
                    f"mitigation: TREX calibration of PUBs {list(group.indices)}: "
                    f"{pub.size} randomizations x {pub.shots} shots"
                )
        started = _now()
        raw = job_run.plugins.execute(sampler)
        stopped = _now()
        pub_results: list[PubResult | None] = [None] * len(task.pubs)
        offset = 0
        for group, items in zip(groups, sampled, strict=True):
            outcome = _post_process(group, items, list(raw)[offset : offset + len(items)])
            offset += len(items)
            for index, pub_result in zip(group.indices, outcome, strict=True):
                pub_metadata = dict(pub_result.metadata)
                # Per-item metadata of the program's result: no compilation here, no IBM key.
                pub_metadata.pop("executor", None)
                pub_metadata.pop("compilation", None)
                pub_metadata["shots"] = group.num_randomizations * group.shots_per_randomization
                pub_metadata["num_randomizations"] = group.num_randomizations
                pub_results[index] = PubResult(pub_result.data, metadata=pub_metadata)
        metadata: dict[str, Any] = {"version": 2, **self._applied()}
        if layer_report is not None:
            metadata["resilience"]["layer_noise"] = layer_report
        for key in ("simulator", "derived_calibrations"):
            if key in raw.metadata:
                metadata[key] = raw.metadata[key]
        result = conform(
            PrimitiveResult([r for r in pub_results if r is not None], metadata=metadata),
            task,
            started,
            stopped,
        )
        add_server_metadata(result, task, ignored_options, self.reasons)
        return result

    def _learned_groups(self, job_run: JobRun) -> tuple[tuple[_Group, ...], dict[str, Any]]:
        """The groups prepared again with the noise of their layers for PEC and PEA, and the
        report of it for the result's ``metadata["resilience"]["layer_noise"]``.

        Without a ``layer_noise_model``, the unique layers of all the job's PUBs are ranked
        as IBM ranks them (occurrences, then two-qubit gates) and the first
        ``max_layers_to_learn`` are learned, as the ``noise-learner`` program learns them
        (exactly, from the executor's noise model); the rest are not mitigated. With one, as
        on IBM, nothing is learned: each layer gets the noise of the model's ``LayerError``
        with the same two-qubit gates on the same qubits, and layers it lacks are not
        mitigated."""
        from .noise_learner import layers_to_learn, learn_layer_maps

        found: dict[Signature, UniqueLayer] = {}
        counts: dict[Signature, int] = {}
        for group in self.groups:
            narrowed, qubits, _ = _group_pubs(self.task.pubs, group.indices, self.device)
            for layer in unique_layers(narrowed, qubits, self.requested):
                found.setdefault(layer.signature, layer)
                counts[layer.signature] = counts.get(layer.signature, 0) + layer.occurrences
        signatures = list(found)
        noise: dict[Signature, Any] = {}
        if self.layer_errors is not None:
            source = "layer_noise_model"
            for signature in signatures:
                layer = found[signature]
                given = _given_map(layer.instruction, layer.physical, self.layer_errors)
                if given is not None:
                    noise[signature] = given
        else:
            source = "learned"
            chosen = [
                signatures[index]
                for index in layers_to_learn(
                    [(counts[sig], found[sig].two_qubit_gates) for sig in signatures],
                    self.learning.max_layers_to_learn,
                )
            ]
            if chosen:
                learned = learn_layer_maps(
                    [(found[sig].instruction, found[sig].physical) for sig in chosen],
                    self.backend,
                    job_run.plugins,
                    job_run.log,
                    noise_model=self.task.options.noise_model,
                )
                noise.update(zip(chosen, learned, strict=True))
        layers = [
            {
                "qubits": list(signature[0]),
                "two_qubit_gates": [[name, list(qubits)] for name, qubits in signature[1]],
                "occurrences": counts[signature],
                "mitigated": signature in noise,
            }
            for signature in signatures
        ]
        unmitigated = [layer for layer in layers if not layer["mitigated"]]
        job_run.log(
            f"mitigation: {len(layers)} unique layer(s), noise {source} for "
            f"{len(layers) - len(unmitigated)}"
            + (
                f" (max_layers_to_learn={self.learning.max_layers_to_learn})"
                if source == "learned"
                else ""
            )
            + "".join(
                f"; layer on qubits {layer['qubits']} ({layer['occurrences']} occurrence(s)) "
                "is not mitigated"
                for layer in unmitigated
            )
        )
        report: dict[str, Any] = {
            "source": source,
            "max_layers_to_learn": (
                self.learning.max_layers_to_learn if source == "learned" else None
            ),
            "layers": layers,
        }
        groups = tuple(
            _prepare_group(
                self.task.pubs,
                group.indices,
                group.precision,
                self.requested,
                self.device,
                noise,
                self.learning,
            )
            for group in self.groups
        )
        return groups, report

    def _summary(self) -> str:
        applied = self._applied()
        resilience = applied["resilience"]
        parts = [name for name, on in resilience.items() if on is True]
        twirling = applied["twirling"]
        parts += [name for name in ("enable_gates", "enable_measure") if twirling[name]]
        if applied["dynamical_decoupling"]["enable"]:
            parts.append("dynamical_decoupling")
        return ", ".join(parts)

    def _applied(self) -> dict[str, Any]:
        """IBM's job metadata about twirling, decoupling and mitigation, for what was run."""
        options = self.options
        twirling = options.twirling
        dd = options.dynamical_decoupling
        resilience = options.resilience
        return {
            "dynamical_decoupling": {
                "enable": dd.enable,
                "sequence_type": dd.sequence_type,
                "extra_slack_distribution": dd.extra_slack_distribution,
                "scheduling_method": dd.scheduling_method,
            },
            "twirling": {
                "enable_gates": bool(twirling.enable_gates),
                "enable_measure": bool(twirling.enable_measure),
                "num_randomizations": twirling.num_randomizations,
                "shots_per_randomization": twirling.shots_per_randomization,
                "interleave_randomizations": True,
                "strategy": twirling.strategy,
            },
            "resilience": {
                "measure_mitigation": bool(resilience.measure_mitigation),
                "zne_mitigation": bool(resilience.zne_mitigation),
                "pec_mitigation": bool(resilience.pec_mitigation),
            },
        }


def _post_process(
    group: _Group, sampled: Sequence[SampledItem], results: Sequence[Any]
) -> list[PubResult]:
    """The client estimator's own post-processing (TREX, twirl averaging, ZNE, PEC) of one
    group's program result."""
    from qiskit_ibm_runtime.decoders.executor_estimator.post_processor_v0_1 import (
        estimator_v2_post_processor_v0_1,
    )
    from qiskit_ibm_runtime.results.quantum_program import (
        QuantumProgramItemResult,
        QuantumProgramResult,
    )

    data = [
        QuantumProgramItemResult(item_arrays(item, pub_result), metadata={})
        for item, pub_result in zip(sampled, results, strict=True)
    ]
    program_result = QuantumProgramResult(
        data=data, passthrough_data=group.program.passthrough_data
    )
    program_result._semantic_role = "estimator_v2"
    pub_results = list(estimator_v2_post_processor_v0_1(program_result))
    # PEC's sampling overhead, which the client's post-processor does not report: gamma (the
    # factor on every value) and gamma^2, the factor on the shots needed for a precision.
    from qiskit_mitigation.utils.utils import load_tasks_from_result

    for pub_result, mitigation in zip(
        pub_results, load_tasks_from_result(program_result), strict=True
    ):
        gamma = getattr(mitigation, "gamma", None)
        if gamma is not None:
            resilience = pub_result.metadata.setdefault("resilience", {})
            resilience["pec"] = {"gamma": float(gamma), "sampling_overhead": float(gamma) ** 2}
    return pub_results


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def mitigation_applies(backend: VirtualBackend, task: EstimatorTask) -> bool:
    """Whether a mitigated run has noise to act on and an executor that samples circuits."""
    info = backend.executor.info
    if "sampler" not in info.programs:
        return False
    if task.options.raw.get("experimental", {}).get("trajectory_expectations"):
        return False
    user_noise = task.options.noise_model is not None and info.honours("simulator.noise_model")
    return backend.simulates_noise or user_noise


def plan(
    task: EstimatorTask,
    backend: VirtualBackend,
    options: Mapping[str, Any],
    ignored: Sequence[str] = (),
) -> MitigatedEstimator | None:
    """The mitigated run of an estimator job, or None where it runs unmitigated (nothing asked
    for, or no noise to mitigate). Raises InvalidRequest for options that cannot apply (too
    few noise factors for an extrapolator, TREX with projector observables, decoupling with
    control flow). ``ignored`` are the job's options it does not apply, whose reasons the
    result states."""
    if not mitigation_applies(backend, task):
        return None
    requested = client_options(options)
    finalized = finalize(requested)
    if not applies(finalized):
        return None
    device = backend.description.backend() if finalized.dynamical_decoupling.enable else None
    by_precision: dict[float, list[int]] = {}
    for index, pub in enumerate(task.pubs):
        by_precision.setdefault(float(pub.precision or 0.0), []).append(index)
    layer_errors = _layer_errors(options)
    learning = learning_options(options)
    groups = tuple(
        _prepare_group(task.pubs, tuple(indices), precision, requested, device, {}, learning)
        for precision, indices in by_precision.items()
    )
    return MitigatedEstimator(
        task=task,
        options=finalized,
        groups=groups,
        requested=requested,
        device=device,
        backend=backend,
        layer_errors=layer_errors,
        learning=learning,
        reasons=not_applied_reasons(ignored, options),
    )


def _layer_errors(options: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The ``LayerError``s of ``resilience.layer_noise_model`` (a ``NoiseLearnerResult`` or a
    list of them, as the legacy client sends it), or None where the job gives no model (an
    empty one is a model: ``()``)."""
    resilience = options.get("resilience")
    model = resilience.get("layer_noise_model") if isinstance(resilience, Mapping) else None
    if model is None:
        return None
    errors = getattr(model, "data", model)
    if not isinstance(errors, list | tuple) or not all(
        hasattr(error, "error") and hasattr(error, "circuit") for error in errors
    ):
        raise InvalidRequest(
            "'resilience.layer_noise_model' must be a NoiseLearnerResult or a list of LayerError"
        )
    return tuple(errors)
