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
from dataclasses import dataclass
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

#: Options a mitigated run does not apply, and why (written to the job's log).
NOT_APPLIED_REASONS: Mapping[str, str] = {
    "resilience.measure_noise_learning.shots_per_randomization": (
        "the TREX calibration runs the job's shots per randomization (IBM deprecated this option)"
    ),
    "resilience.layer_noise_learning": (
        "the server does not learn layer noise for PEC and PEA inside an estimator job; "
        "learn it with a noise-learner job (NoiseLearnerV3)"
    ),
}


def _reason(path: str) -> str | None:
    """Why a mitigated run does not apply the option at ``path`` (None: not a mitigation
    option)."""
    for prefix, reason in NOT_APPLIED_REASONS.items():
        if path == prefix or path.startswith(f"{prefix}."):
            return reason
    return None


def honoured_paths(paths: Sequence[str]) -> list[str]:
    """The paths among ``paths`` (options the job set) that a mitigated run applies."""
    honoured = []
    for path in paths:
        if path == "resilience_level":
            honoured.append(path)
            continue
        section, _, name = path.rpartition(".")
        if name in _MAPPED_SECTIONS.get(section, ()):
            honoured.append(path)
    return honoured


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


#: Learns the noise of boxes on physical qubits (see ``noise_learner.learn_layer_maps``).
LayerLearner = Callable[[Sequence[tuple[Any, tuple[int, ...]]]], list[Any]]


def _prepare_group(
    pubs: Sequence[EstimatorPub],
    indices: tuple[int, ...],
    precision: float,
    options: EstimatorOptions,
    device: BackendV2 | None,
    learner: LayerLearner | None,
    layer_errors: Sequence[Any] = (),
) -> _Group:
    """One group's QuantumProgram. PEC and PEA inject the noise of every unique layer: the
    user's ``layer_errors`` (``LayerError``s of ``resilience.layer_noise_model``) where one
    has the layer's two-qubit gates, else learned by ``learner``, or, without one (at
    submission, where only the options are checked), maps of zero rates."""
    from qiskit_ibm_runtime.exceptions import IBMInputValueError
    from qiskit_ibm_runtime.executor_estimator.prepare import prepare

    group = [pubs[i] for i in indices]
    width = max(pub.circuit.num_qubits for pub in group)
    # The client measures (and twirls, and calibrates) every qubit of a PUB's circuit, the
    # idle ones of a device-wide ISA circuit too: they run on the qubits that act instead (the
    # same for the whole group, which shares one TREX calibration), and the program's
    # circuits are put back on the device's qubits after. Decoupling times the idle periods
    # of physical qubits: with it the circuits keep every qubit.
    qubits = tuple(range(width)) if device is not None else _acting_qubits(group)
    narrowed = [_narrowed(pub, qubits) for pub in group]
    if _injects_noise(options) and options.resilience.layer_noise_model is None:
        options = options.model_copy(deep=True)
        options.resilience.layer_noise_model = _layer_noise(
            narrowed, qubits, options, learner, layer_errors
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program, _ = prepare(narrowed, options, precision, add_tags=False, backend=device)
    except IBMInputValueError as error:
        raise InvalidRequest(f"the estimator options cannot be applied: {error}") from None
    program._semantic_role = "estimator_v2"
    items = tuple(
        ProgramItem(
            circuit=_widened(item.circuit, qubits, width),
            shape=tuple(int(n) for n in getattr(item, "shape", ())),
            source=item,
        )
        for item in program.items
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


def _injects_noise(options: EstimatorOptions) -> bool:
    """Whether the options ask for PEC or PEA, which inject learned layer noise."""
    resilience = finalize(options).resilience
    return bool(
        resilience.pec_mitigation
        or (resilience.zne_mitigation and resilience.zne.amplifier == "pea")
    )


def _layer_noise(
    pubs: Sequence[EstimatorPub],
    qubits: tuple[int, ...],
    options: EstimatorOptions,
    learner: LayerLearner | None,
    layer_errors: Sequence[Any],
) -> list[Any]:
    """The unique gate layers of ``pubs`` as the client's ``Estimator.find_unique_layers``
    finds them, each with its noise: what IBM's estimator learns before PEC or PEA."""
    from qiskit.quantum_info import PauliLindbladMap
    from qiskit_ibm_runtime.executor_estimator.prepare import choose_task_class
    from qiskit_ibm_runtime.executor_estimator.utils import estimator_options_to_boxing_options
    from qiskit_mitigation import find_combined_unique_layers

    finalized = finalize(options)
    task_class = choose_task_class(finalized.resilience)
    layers = find_combined_unique_layers(
        circuits=[pub.circuit for pub in pubs],
        mitigation_types=[task_class() for _ in pubs],
        custom_boxing_options=estimator_options_to_boxing_options(
            finalized.twirling,
            measure_mitigation=bool(finalized.resilience.measure_mitigation),
            inject_noise=True,
            add_tags=True,
        ),
        box_types="gates",
    )
    boxes = [
        (layer, tuple(qubits[_bit_index(pubs, qubit)] for qubit in layer.qubits))
        for layer in layers
    ]
    maps = [_given_map(layer, physical, layer_errors) for layer, physical in boxes]
    missing = [index for index, found in enumerate(maps) if found is None]
    if missing and learner is not None:
        learned = learner([boxes[index] for index in missing])
        for index, noise in zip(missing, learned, strict=True):
            maps[index] = noise
    for index in missing:
        if maps[index] is None:
            maps[index] = PauliLindbladMap.identity(len(layers[index].qubits))
    return list(zip(layers, maps, strict=True))


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
    #: The ``LayerError``s of the job's ``resilience.layer_noise_model``, if it gave any.
    layer_errors: tuple[Any, ...] = ()

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
        if _injects_noise(self.requested):
            groups = self._learned_groups(job_run)
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
        for path in ignored_options:
            reason = _reason(path)
            if reason:
                job_run.log(f"mitigation: option {path!r} is not applied: {reason}")
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
        for key in ("simulator", "derived_calibrations"):
            if key in raw.metadata:
                metadata[key] = raw.metadata[key]
        result = conform(
            PrimitiveResult([r for r in pub_results if r is not None], metadata=metadata),
            task,
            started,
            stopped,
        )
        add_server_metadata(result, task, ignored_options)
        return result

    def _learned_groups(self, job_run: JobRun) -> tuple[_Group, ...]:
        """The groups prepared again with the learned noise of their layers, as the
        ``noise-learner`` program learns it (exactly, from the executor's noise model)."""
        from .noise_learner import learn_layer_maps

        def learner(boxes: Sequence[tuple[Any, tuple[int, ...]]]) -> list[Any]:
            return learn_layer_maps(
                boxes,
                self.backend,
                job_run.plugins,
                job_run.log,
                noise_model=self.task.options.noise_model,
            )

        return tuple(
            _prepare_group(
                self.task.pubs,
                group.indices,
                group.precision,
                self.requested,
                self.device,
                learner,
                self.layer_errors,
            )
            for group in self.groups
        )

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
    task: EstimatorTask, backend: VirtualBackend, options: Mapping[str, Any]
) -> MitigatedEstimator | None:
    """The mitigated run of an estimator job, or None where it runs unmitigated (nothing asked
    for, or no noise to mitigate). Raises InvalidRequest for options that cannot apply (too
    few noise factors for an extrapolator, TREX with projector observables, decoupling with
    control flow)."""
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
    groups = tuple(
        _prepare_group(task.pubs, tuple(indices), precision, requested, device, None, layer_errors)
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
    )


def _layer_errors(options: Mapping[str, Any]) -> tuple[Any, ...]:
    """The ``LayerError``s of ``resilience.layer_noise_model`` (a ``NoiseLearnerResult`` or a
    list of them, as the legacy client sends it), or none."""
    resilience = options.get("resilience")
    model = resilience.get("layer_noise_model") if isinstance(resilience, Mapping) else None
    if model is None:
        return ()
    errors = getattr(model, "data", model)
    if not isinstance(errors, list | tuple) or not all(
        hasattr(error, "error") and hasattr(error, "circuit") for error in errors
    ):
        raise InvalidRequest(
            "'resilience.layer_noise_model' must be a NoiseLearnerResult or a list of LayerError"
        )
    return tuple(errors)
