"""The ``noise-learner`` program (v2 and v3): the Pauli-Lindblad noise of layers, as the
executor's own noise model has it.

IBM's learner runs twirled layers at several depths and fits the decay of Pauli expectation
values. A simulator need not: the noise it will apply is known, so the server computes what an
infinitely long learning experiment would converge to, exactly, and says so in the result.

* Gate layers (protocol ``lindblad``): the layer is a twirled box, i.e. its undressed gates
  (disjoint, Clifford) plus, on every qubit of the box, the single-qubit "dressing" that
  implements the twirl (``rz sx rz sx rz`` for samplomatic's ``rzsx`` decomposition, ``rz rx
  rz`` for ``rzrx``), which the simulated job runs, with noise, on every randomization. The rates
  describe both: each gate's error (from the executor, ``qiskit_runtime_device_noise``) is
  Pauli-twirled, and the fidelities of the product are fitted with the learner's generators (X,
  Y, Z on every qubit of the box, the nine two-qubit Paulis on every coupled pair of them, and on
  the pair of every two-qubit gate of the layer).

  The noise is referred to the undressed side of the box: after the gates of a left-dressed box
  (the dressing's errors pushed forward through the layer's Clifford, ``f(Q) = f_gates(Q)
  f_dressing(U^+ Q U)``), before the gates of a right-dressed one (the gates' and the dressing's
  errors, which both come after the gates, pushed back through it: ``f(Q) = f_gates(U Q U^+)
  f_dressing(U Q U^+)``). Those are the places where qiskit-ibm-runtime's local simulation of a
  QuantumProgram injects a layer's noise (``determine_barrier_position``: barrier ``R`` for a
  left-dressed box, ``L`` for a right-dressed one), and where samplomatic's ``InjectNoise``
  injects the map with ``site="after"`` on a left-dressed box (the client-side primitives'
  choice) and with ``site="before"`` on a right-dressed one.

  The dressing's gates are composed as Pauli channels (their fidelities multiply), which
  neglects the basis changes between them: exact for depolarizing errors, and off by the
  difference between a gate's X/Y and Z fidelities (a T1/T2 effect of order 1e-4 per gate)
  otherwise.
* Measurement boxes (protocol ``trex``): one X generator per qubit, with the fidelity of the
  twirled readout, ``1 - P(1|0) - P(0|1)``, times the Z fidelity of a left dressing (which runs
  before the measurement; a right dressing runs after it and cannot change the readout).

Every layer must fit the executor (``ExecutorInfo.max_qubits``) and have at most
``MAX_GENERATORS`` generators, so that one job's exact fit stays a matter of seconds; larger
layers are refused at submission.

Options that steer the experiment (shots, randomizations, depths, post-selection, bit-flip
checks) cannot change an exact answer: they are accepted and listed in the job's ignored
options and the result's metadata. On an executor that simulates no noise (or a device
without calibration data) every rate is zero, and the metadata says why.
"""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from ibm_quantum_schemas.common import F64TensorModel
from ibm_quantum_schemas.noise_learner_v3.version_0_3 import (
    LinbdbladResultMetadataModel,
    LinbdbladResultPostSelectionMetadataModel,
    NoiseLearnerV3ResultModel,
    NoiseLearnerV3ResultsModel,
    OptionsModel,
    ParamsModel,
    TREXResultMetadataModel,
    TREXResultPostSelectionMetadataModel,
)
from pydantic import BaseModel, ValidationError
from qiskit.circuit import BoxOp, CircuitInstruction, QuantumCircuit, QuantumRegister
from qiskit.quantum_info import Clifford, Pauli, PauliList
from qiskit_ibm_runtime import RuntimeEncoder
from qiskit_ibm_runtime.exceptions import IBMInputValueError
from qiskit_ibm_runtime.noise_learner_v3.find_learning_protocol import find_learning_protocol
from qiskit_ibm_runtime.noise_learner_v3.validation import validate_instruction
from qiskit_ibm_runtime.options.noise_learner_options import NoiseLearnerOptions
from qiskit_ibm_runtime.results.noise_learner import LayerError, PauliLindbladError
from qiskit_ibm_runtime.utils.utils import is_isa_circuit
from samplomatic.annotations import Twirl
from samplomatic.transpiler import generate_boxing_pass_manager
from samplomatic.utils import get_annotation, undress_box
from samplomatic.utils.box_key import BoxKey

from ..device_noise import DeviceNoise, GateRef, NoiseQuery
from ..errors import InvalidRequest
from ..jobs.decoding import decode_params
from ..tasks import SamplerTask, TaskOptions
from . import pauli_lindblad as pl
from .prepared import JobRun, PreparedTask

if TYPE_CHECKING:
    from ..catalogue import VirtualBackend
    from ..plugins import PluginHost

HOOK = "qiskit_runtime_device_noise"

#: NoiseLearnerOptions' default (qiskit-ibm-runtime 0.51).
DEFAULT_MAX_LAYERS = 4
DEFAULT_TWIRLING_STRATEGY = "active-accum"
#: The dressing samplomatic synthesizes for each decomposition, on every qubit of a box
#: (``RzSxSynth``, ``RzRxSynth``: one synthesized single-qubit gate per side of the box).
DRESSINGS: dict[str, tuple[str, ...]] = {
    "rzsx": ("rz", "sx", "rz", "sx", "rz"),
    "rzrx": ("rz", "rx", "rz"),
}
#: The most generators one layer may have. The fit solves a dense square system in them and
#: evaluates as many fidelities: a layer of 1,770 generators takes about 1.4 s on two cores
#: (``test_a_layer_at_the_cap_is_learned_in_seconds`` measures it). A device's layers stay far
#: below it (a layer of 127-qubit Eagle has 3 x 127 + 9 x 144 = 1,677); a device without a
#: coupling map couples every pair, so there the cap is about 20 qubits per layer.
MAX_GENERATORS = 2048
#: v2 options that change the answer (the rest steer an experiment that is not run).
V2_HONOURED = frozenset({"max_layers_to_learn", "twirling_strategy"})
SOURCE_NOTE = (
    "rates computed exactly from the executor's noise model (the Pauli-twirled channel of "
    "each layer), not learned from sampled circuits: rates_std is 0"
)

Protocol = Literal["lindblad", "trex"]
#: Rates below this are rounding noise of the solver (device rates are 1e-5 and up).
ZERO_RATE = 1e-14


@dataclass(frozen=True)
class Layer:
    """One layer to report on: a twirled box on ``qubits`` (physical, ascending; generator
    qubit k is ``qubits[k]``)."""

    protocol: Protocol
    qubits: tuple[int, ...]
    #: The undressed box's gates on physical qubits (barriers left out).
    gates: tuple[GateRef, ...]
    #: The undressed box's unitary on local indices (lindblad), for pushing noise through it.
    clifford: Clifford | None
    #: The single-qubit gates of the twirl's dressing on every qubit, in time order.
    dressing: tuple[str, ...]
    dressing_side: Literal["left", "right"]
    #: Local index pairs that get weight-2 generators.
    pairs: tuple[tuple[int, int], ...]
    #: The layer as a circuit on ``len(qubits)`` qubits (v2's ``LayerError.circuit``).
    circuit: QuantumCircuit

    def generators(self) -> list[tuple[str, tuple[int, ...]]]:
        if self.protocol == "trex":
            return pl.x_generators(len(self.qubits))
        return pl.weight_one_and_two(len(self.qubits), self.pairs)

    def num_generators(self) -> int:
        """``len(self.generators())``, without building them."""
        if self.protocol == "trex":
            return len(self.qubits)
        return 3 * len(self.qubits) + 9 * len(set(self.pairs))

    def probes(self) -> list[tuple[str, tuple[int, ...]]]:
        """The Paulis whose fidelities fix the rates: the generators themselves for a gate
        layer, Z on every qubit for a measurement (a readout flip X shows on Z only)."""
        if self.protocol == "trex":
            return [("Z", (qubit,)) for qubit in range(len(self.qubits))]
        return self.generators()


@dataclass
class PreparedNoiseLearning:
    """A checked ``noise-learner`` job: what ``learn_noise`` computes, and what the job record
    shows."""

    version: Literal[2, 3]
    circuits: list[QuantumCircuit]
    layers: list[Layer]
    ignored_options: list[str]
    #: The options as sent (v2: reported back as ``input_options``).
    options: dict[str, Any]
    #: ``options.simulator.noise_model`` as sent (v2 only), or None.
    noise_model: Any | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def cost(self) -> int:
        """The job's work, for a size limit next to the executions of sampler jobs: the
        entries of the fits' matrices (probes x generators, summed over layers). The fit of a
        layer is a dense solve in its generators, and each probe's fidelity is a product over
        the layer's parts, so this grows like the work does; a layer at ``MAX_GENERATORS``
        costs about 4.2 million."""
        return sum(layer.num_generators() ** 2 for layer in self.layers)


# -- submission ---------------------------------------------------------------------------------


def prepare_noise_learning(raw_params: Any, backend: VirtualBackend) -> PreparedNoiseLearning:
    """Check a ``noise-learner`` job's params (v2 or v3) and find its layers; raise
    InvalidRequest with a message for the user when they cannot be learned. Cheap: no noise is
    computed here."""
    if not isinstance(raw_params, dict):
        raise InvalidRequest("'params' of a noise-learner job must be an object")
    try:
        if "schema_version" in raw_params or raw_params.get("version") == 3:
            prepared = _prepare_v3(raw_params, backend)
        else:
            prepared = _prepare_v2(raw_params, backend)
    except InvalidRequest:
        raise
    except Exception as error:
        # Decoding, boxing and finding layers run Qiskit's, samplomatic's and the client's code
        # on whatever was sent; whatever they trip over is the request's fault, not the server's.
        raise InvalidRequest(
            "params: the noise-learner layers could not be found in what was sent "
            f"({type(error).__name__}: {error})"
        ) from None
    info = backend.executor.info
    _check_size(prepared, backend)
    if (
        backend.simulates_noise or _uses_user_model(prepared, backend)
    ) and not backend.executor.implements(HOOK):
        raise InvalidRequest(
            f"the {info.name!r} executor behind {backend.name} simulates noise but cannot say "
            f"what it is (its plugin lacks the {HOOK} hook), so noise-learner jobs cannot be "
            "answered on it; use a backend of an executor that has it (e.g. @aer)"
        )
    return prepared


def _check_size(prepared: PreparedNoiseLearning, backend: VirtualBackend) -> None:
    """Refuse layers the executor could not simulate, or whose exact fit is too large to
    compute in a job (``MAX_GENERATORS``)."""
    info = backend.executor.info
    for index, layer in enumerate(prepared.layers):
        if len(layer.qubits) > backend.max_qubits:
            raise InvalidRequest(
                f"layer {index} acts on {len(layer.qubits)} qubits; the {info.name!r} executor "
                f"behind {backend.name} simulates at most {backend.max_qubits}"
            )
        if layer.num_generators() > MAX_GENERATORS:
            raise InvalidRequest(
                f"layer {index} (qubits {list(layer.qubits)}) has {layer.num_generators():,} "
                f"generators; this server learns layers of at most {MAX_GENERATORS:,} "
                "(3 per qubit and 9 per coupled pair): use narrower layers"
                + (
                    f" ({backend.name} has no coupling map, so every pair of a layer's qubits "
                    "is coupled)"
                    if backend.description.backend().coupling_map is None
                    else ""
                )
            )


def validation_task(prepared: PreparedNoiseLearning, backend: VirtualBackend) -> SamplerTask | None:
    """What the executor's ``qiskit_runtime_validate`` hook should see of a job that sends
    ``options.simulator.noise_model`` to an executor that honours it: a sampler task with no
    PUBs and that model, so that the executor can refuse a model it cannot read at submission
    (a 400) instead of failing the job in the worker. None when the job uses no user model.
    The hook's contract is unchanged: it gets an ordinary, empty, ``SamplerTask``."""
    if not _uses_user_model(prepared, backend):
        return None
    return SamplerTask(
        job_id="",
        executor=backend.executor.info.name,
        backend_name=backend.name,
        backend=backend.description,
        options=TaskOptions(
            noise_model=prepared.noise_model,
            raw={"simulator": {"noise_model": prepared.noise_model}},
        ),
    )


def _uses_user_model(prepared: PreparedNoiseLearning, backend: VirtualBackend) -> bool:
    return prepared.noise_model is not None and backend.executor.info.honours(
        "simulator.noise_model"
    )


def _prepare_v3(raw_params: dict[str, Any], backend: VirtualBackend) -> PreparedNoiseLearning:
    params = {key: value for key, value in raw_params.items() if key != "version"}
    version = params.get("schema_version")
    if version != "v0.3":
        raise InvalidRequest(
            f"params.schema_version {version!r} is not supported for noise-learner: this "
            "server reads 'v0.3' (qiskit-ibm-runtime's NoiseLearnerV3)"
        )
    unknown = _unknown_fields(params.get("options") or {}, OptionsModel, "options")
    if unknown:
        raise InvalidRequest(f"params: unknown noise-learner options {', '.join(unknown)}")
    try:
        model = ParamsModel.model_validate(params)
    except ValidationError as error:
        raise InvalidRequest(f"params do not fit NoiseLearnerV3's schema v0.3: {error}") from None
    except Exception as error:  # the schema's QPY header check reads the bytes itself
        raise InvalidRequest(f"params.instructions are not a QPY circuit: {error}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            circuit = model.instructions.to_quantum_circuit()
    except Exception as error:
        raise InvalidRequest(
            f"params.instructions: the QPY circuit could not be read ({error}); the server's "
            "Qiskit must be at least as new as the client's"
        ) from None
    description = backend.description
    target = description.backend().target
    register = QuantumRegister(description.num_qubits, "q")
    layers: list[Layer] = []
    for index, instruction in enumerate(circuit.data):
        try:
            validate_instruction(instruction, target)
        except IBMInputValueError as error:
            raise InvalidRequest(f"params.instructions[{index}]: {error.message}") from None
        except Exception as error:  # a malformed box the client's checks trip over
            raise InvalidRequest(f"params.instructions[{index}]: {error}") from None
        physical = tuple(register.index(qubit) for qubit in instruction.qubits)
        layers.append(_layer(instruction, physical, backend, f"params.instructions[{index}]"))
    options = model.options.model_dump()
    ignored = sorted(_leaf_paths(params.get("options") or {}))
    return PreparedNoiseLearning(
        version=3, circuits=[circuit], layers=layers, ignored_options=ignored, options=options
    )


def _prepare_v2(raw_params: dict[str, Any], backend: VirtualBackend) -> PreparedNoiseLearning:
    params = decode_params(raw_params)
    circuits = params.get("circuits")
    if not isinstance(circuits, list) or not circuits:
        raise InvalidRequest("params.circuits must be a non-empty list of circuits")
    for index, circuit in enumerate(circuits):
        if not isinstance(circuit, QuantumCircuit):
            raise InvalidRequest(f"params.circuits[{index}] is not an encoded QuantumCircuit")
    raw_options = params.get("options") or {}
    if not isinstance(raw_options, dict):
        raise InvalidRequest("params.options must be an object")
    options = {key: value for key, value in raw_options.items() if key != "support_qiskit"}
    try:
        checked = NoiseLearnerOptions(**options)
    except Exception as error:
        raise InvalidRequest(f"params.options are not NoiseLearnerOptions: {error}") from None
    description = backend.description
    target = description.backend().target
    for index, circuit in enumerate(circuits):
        if circuit.num_qubits > description.num_qubits:
            raise InvalidRequest(
                f"params.circuits[{index}] has {circuit.num_qubits} qubits; {backend.name} "
                f"has {description.num_qubits}"
            )
        if not description.simulator and (problem := is_isa_circuit(circuit, target)):
            raise InvalidRequest(f"params.circuits[{index}] is not an ISA circuit: {problem}")
        if any(isinstance(instruction.operation, BoxOp) for instruction in circuit.data):
            raise InvalidRequest(
                f"params.circuits[{index}] contains boxes: NoiseLearner (v2) finds the layers "
                "of a circuit of plain gates itself; send twirled boxes to NoiseLearnerV3"
            )
    strategy = options.get("twirling_strategy", DEFAULT_TWIRLING_STRATEGY)
    max_layers = options.get("max_layers_to_learn", DEFAULT_MAX_LAYERS)
    del checked  # validated; the raw dict keeps only what the user set
    layers = _v2_layers(circuits, str(strategy), max_layers, backend)
    simulator = options.get("simulator") or {}
    noise_model = simulator.get("noise_model") if isinstance(simulator, dict) else None
    honoured = set(V2_HONOURED)
    notes: list[str] = []
    if noise_model is not None:
        if backend.executor.info.honours("simulator.noise_model"):
            honoured.add("simulator.noise_model")
        else:
            notes.append(
                f"options.simulator.noise_model is not supported by the "
                f"{backend.executor.info.name!r} executor: the rates are not those of that model"
            )
    ignored = sorted(path for path in _leaf_paths(options) if path not in honoured)
    return PreparedNoiseLearning(
        version=2,
        circuits=list(circuits),
        layers=layers,
        ignored_options=ignored,
        options=raw_options,
        noise_model=noise_model,
        notes=notes,
    )


def _v2_layers(
    circuits: Sequence[QuantumCircuit],
    strategy: str,
    max_layers: Any,
    backend: VirtualBackend,
) -> list[Layer]:
    """NoiseLearner v2's layers: the circuits' two-qubit gates boxed into twirled layers the
    way the client-side primitives box them (samplomatic, with the job's twirling strategy;
    barriers are obeyed), unique layers ordered by how often they occur, then by their number
    of two-qubit gates, and at most ``max_layers_to_learn`` of them."""
    manager = generate_boxing_pass_manager(
        enable_gates=True,
        enable_measures=False,
        twirling_strategy=strategy.replace("-", "_"),
    )
    counts: Counter[BoxKey] = Counter()
    first: dict[BoxKey, tuple[CircuitInstruction, tuple[int, ...]]] = {}
    for index, circuit in enumerate(circuits):
        try:
            boxed = manager.run(circuit)
        except Exception as error:
            raise InvalidRequest(
                f"params.circuits[{index}]: its layers could not be found "
                f"({type(error).__name__}: {error})"
            ) from None
        for instruction in boxed.data:
            if not isinstance(instruction.operation, BoxOp):
                continue
            undressed = undress_box(instruction.operation)
            if not any(op.operation.num_qubits == 2 for op in undressed.body.data):
                continue  # the boxing pass's closing box of single-qubit gates: no layer
            undressed.annotations = []
            key = BoxKey(CircuitInstruction(undressed, instruction.qubits, instruction.clbits))
            counts[key] += 1
            if key not in first:
                physical = tuple(boxed.find_bit(q).index for q in instruction.qubits)
                first[key] = (instruction, physical)
    keys = list(counts)
    chosen = layers_to_learn(
        [
            (
                counts[key],
                sum(
                    1
                    for op in undress_box(first[key][0].operation).body
                    if op.operation.num_qubits == 2
                ),
            )
            for key in keys
        ],
        None if max_layers is None else int(max_layers),
    )
    order = [keys[index] for index in chosen]
    return [
        _layer(
            first[key][0],
            first[key][1],
            backend,
            f"the layer of params.circuits on qubits {sorted(first[key][1])}",
        )
        for key in order
    ]


def layers_to_learn(layers: Sequence[tuple[int, int]], max_layers: int | None) -> list[int]:
    """The indices of the unique layers IBM's learners learn, in the order learned: ``layers``
    holds each one's (occurrences in the job's circuits, number of two-qubit gates). The most
    frequent first, ties broken by more two-qubit gates, then by first appearance; at most
    ``max_layers`` of them (None: all), as NoiseLearner's and EstimatorV2's
    ``max_layers_to_learn`` documents it."""
    order = sorted(range(len(layers)), key=lambda index: (-layers[index][0], -layers[index][1]))
    return order if max_layers is None else order[:max_layers]


def _layer(
    instruction: CircuitInstruction, physical: tuple[int, ...], backend: VirtualBackend, what: str
) -> Layer:
    """The layer of one box on ``physical`` qubits (in the box's qubit order); ``what`` names
    it in messages to the user."""
    box = instruction.operation
    if not isinstance(box, BoxOp):
        raise InvalidRequest(f"{what} is a {box.name!r}, not a box")
    protocol = find_learning_protocol(instruction)
    if protocol is None:
        raise InvalidRequest(
            f"{what} can be learned by no protocol: a box of one layer of Clifford "
            "gates on at most two qubits each (lindblad), or of one measurement per qubit (trex)"
        )
    twirl = get_annotation(box, Twirl)
    dressing: tuple[str, ...] = ()
    side: Literal["left", "right"] = "left"
    if twirl is not None:
        decomposition = str(getattr(twirl.decomposition, "value", twirl.decomposition))
        if decomposition not in DRESSINGS:
            raise InvalidRequest(
                f"{what}: the twirl's decomposition {decomposition!r} is not "
                f"known to this server (it knows {', '.join(sorted(DRESSINGS))})"
            )
        dressing = DRESSINGS[decomposition]
        if str(getattr(twirl.dressing, "value", twirl.dressing)) == "right":
            side = "right"
    undressed = undress_box(box)
    qubits = tuple(sorted(physical))
    local = {phys: k for k, phys in enumerate(qubits)}
    body_to_physical = {
        body_qubit: physical[k] for k, body_qubit in enumerate(undressed.body.qubits)
    }
    gates: list[GateRef] = []
    measures = sum(1 for op in undressed.body.data if op.operation.name == "measure")
    layer = QuantumCircuit(len(qubits), measures)
    for op in undressed.body.data:
        if op.operation.name == "barrier":
            continue
        on = tuple(body_to_physical[q] for q in op.qubits)
        params = tuple(float(p) for p in op.operation.params if _is_number(p))
        gates.append(GateRef(op.operation.name, on, params))
        clbits = [layer.num_clbits - measures] if op.operation.name == "measure" else []
        measures -= len(clbits)
        layer.append(op.operation, [local[q] for q in on], clbits)
    clifford: Clifford | None = None
    if protocol.value == "pauli_lindblad":
        gate_part = layer.copy()
        gate_part.remove_final_measurements(inplace=True)
        try:
            clifford = Clifford(gate_part)
        except Exception:
            raise InvalidRequest(f"{what}: its gates are not Clifford") from None
    pairs = _pairs(qubits, gates, backend)
    return Layer(
        protocol="trex" if protocol.value == "trex" else "lindblad",
        qubits=qubits,
        gates=tuple(gates),
        clifford=clifford,
        dressing=dressing,
        dressing_side=side,
        pairs=tuple((local[a], local[b]) for a, b in pairs),
        circuit=layer,
    )


def _pairs(
    qubits: tuple[int, ...], gates: Iterable[GateRef], backend: VirtualBackend
) -> list[tuple[int, int]]:
    """Coupled pairs among ``qubits`` (all pairs on a device without a coupling map), and the
    pair of every two-qubit gate (so that a gate's whole error fits the model)."""
    inside = set(qubits)
    coupling = backend.description.backend().coupling_map
    found: set[tuple[int, int]] = set()
    if coupling is None:
        found = {(a, b) for a in qubits for b in qubits if a < b}
    else:
        for a, b in coupling.get_edges():
            if a in inside and b in inside and a != b:
                found.add((min(a, b), max(a, b)))
    for gate in gates:
        if len(gate.qubits) == 2:
            a, b = gate.qubits
            found.add((min(a, b), max(a, b)))
    return sorted(found)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _unknown_fields(options: Any, model: type[BaseModel], path: str) -> list[str]:
    if not isinstance(options, dict):
        return []
    unknown: list[str] = []
    for key, value in options.items():
        info = model.model_fields.get(key)
        if info is None:
            unknown.append(f"{path}.{key}")
            continue
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            unknown += _unknown_fields(value, annotation, f"{path}.{key}")
    return unknown


def _leaf_paths(options: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in options.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths += _leaf_paths(value, f"{path}.")
        else:
            paths.append(path)
    return paths


# -- the worker ---------------------------------------------------------------------------------


@dataclass
class _LayerRates:
    generators: list[tuple[str, tuple[int, ...]]]
    rates: np.ndarray[Any, np.dtype[np.float64]]
    misfit: float


def learn_noise(
    prepared: PreparedNoiseLearning,
    backend: VirtualBackend,
    host: PluginHost,
    log: Callable[[str], None],
) -> str:
    """The job's result text, as ``GET /jobs/{id}/results`` returns it: v2 RuntimeEncoder
    JSON of ``{"data": [LayerError...], "metadata": ...}``, v3 schema v0.3 JSON."""
    started = time.perf_counter()
    info = backend.executor.info
    noise: DeviceNoise | None = None
    notes = list(prepared.notes)
    use_user_model = _uses_user_model(prepared, backend)
    if backend.simulates_noise or use_user_model:
        query = _query(prepared, backend, user_model=use_user_model)
        noise = host.device_noise(query)
        source = noise.source or f"the {info.name!r} executor's noise model"
        notes.append(SOURCE_NOTE)
    elif not info.simulates_noise:
        source = f"none: the {info.name!r} executor simulates no noise, so every rate is 0"
    else:
        source = (
            f"none: {backend.description.name} has no calibration data (a noiseless device), "
            "so every rate is 0"
        )
    log(f"noise-learner: {len(prepared.layers)} layer(s) on {backend.name}; noise: {source}")
    tables: dict[int, tuple[Any, dict[str, float]]] = {}
    results = [_layer_rates(layer, noise, tables) for layer in prepared.layers]
    for layer, result in zip(prepared.layers, results, strict=True):
        log(
            f"noise-learner: {layer.protocol} layer on qubits {list(layer.qubits)}: "
            f"{len(result.generators)} generators, largest rate "
            f"{float(np.max(result.rates, initial=0.0)):.3g}"
        )
    server = {
        "noise_source": source,
        "notes": notes,
        "ignored_options": list(prepared.ignored_options),
        "fit_misfit": max((r.misfit for r in results), default=0.0),
        "seconds": round(time.perf_counter() - started, 6),
    }
    if prepared.version == 3:
        return _v3_text(prepared, results, server)
    return _v2_text(prepared, backend, results, server)


def learn_layer_maps(
    boxes: Sequence[tuple[CircuitInstruction, tuple[int, ...]]],
    backend: VirtualBackend,
    host: PluginHost,
    log: Callable[[str], None],
    noise_model: Any | None = None,
) -> list[Any]:
    """The Pauli-Lindblad maps (``qiskit.quantum_info.PauliLindbladMap``) a ``NoiseLearnerV3``
    job learns for ``boxes`` (each a box and the physical qubits of its qubits), as the client
    reads them from the job's result: what PEC and PEA of an ``estimator`` job inject."""
    from qiskit_ibm_runtime.decoders.noise_learner_v3.decoder import NoiseLearnerV3ResultDecoder

    layers = [
        _layer(box, physical, backend, f"layer {index} of the estimator's circuits")
        for index, (box, physical) in enumerate(boxes)
    ]
    prepared = PreparedNoiseLearning(
        version=3,
        circuits=[],
        layers=layers,
        ignored_options=[],
        options={},
        noise_model=noise_model,
    )
    text = learn_noise(prepared, backend, host, log)
    return list(NoiseLearnerV3ResultDecoder.decode(text).to_pauli_lindblad_maps())


def mock_noise_learning(prepared: PreparedNoiseLearning, backend: VirtualBackend) -> str:
    """A dry run's result: the job's layers and generators with random rates (no noise
    computed), in the form of a real result."""
    rng = np.random.default_rng()
    results = []
    for layer in prepared.layers:
        generators = layer.generators()
        results.append(_LayerRates(generators, rng.uniform(0, 1e-3, len(generators)), 0.0))
    server = {
        "noise_source": "dry run: random rates, nothing was computed",
        "notes": [],
        "ignored_options": list(prepared.ignored_options),
    }
    if prepared.version == 3:
        return _v3_text(prepared, results, server)
    return _v2_text(prepared, backend, results, server)


def _query(
    prepared: PreparedNoiseLearning, backend: VirtualBackend, *, user_model: bool
) -> NoiseQuery:
    gates: dict[GateRef, None] = {}
    measured: dict[int, None] = {}
    for layer in prepared.layers:
        for gate in layer.gates:
            if gate.name == "measure":
                measured.update(dict.fromkeys(gate.qubits))
            elif gate.name != "barrier":
                gates[gate] = None
        for qubit in layer.qubits:
            for name in layer.dressing:
                gates[GateRef(name, (qubit,))] = None
    return NoiseQuery(
        executor=backend.executor.info.name,
        backend_name=backend.name,
        backend=backend.description,
        gates=tuple(gates),
        measured_qubits=tuple(measured),
        noise_model=prepared.noise_model if user_model else None,
    )


def _layer_rates(
    layer: Layer, noise: DeviceNoise | None, tables: dict[int, tuple[Any, dict[str, float]]]
) -> _LayerRates:
    generators = layer.generators()
    if noise is None:
        return _LayerRates(generators, np.zeros(len(generators)), 0.0)
    n = len(layer.qubits)
    paulis = [pl.to_pauli(term, n) for term in generators]
    probes = [pl.to_pauli(term, n) for term in layer.probes()]
    fidelities = []
    for pauli in probes:
        value = 1.0
        for _part, factor in _factors(layer, noise, pauli, tables):
            value *= factor
        if value <= pl.MIN_FIDELITY:
            raise ValueError(_erased(layer, noise, pauli, value, tables))
        fidelities.append(value)
    rates, misfit = pl.solve_rates(paulis, fidelities, probes)
    # Rates the exact model gives as zero come out of the solver as +-1e-17.
    rates[np.abs(rates) < ZERO_RATE] = 0.0
    return _LayerRates(generators, rates, misfit)


def _erased(
    layer: Layer,
    noise: DeviceNoise,
    pauli: Pauli,
    value: float,
    tables: dict[int, tuple[Any, dict[str, float]]],
) -> str:
    """Why a layer has no Pauli-Lindblad rates: the parts of its noise that erase ``pauli``
    (a fidelity of 0 or less, e.g. a fully depolarizing gate, or a readout that is a coin
    toss), named by gate and physical qubits, for the job's failure message."""
    culprits = [
        part for part, factor in _factors(layer, noise, pauli, tables) if factor <= pl.MIN_FIDELITY
    ]
    label = pauli.to_label().lstrip("-i")
    named = "; ".join(culprits) or "the product of its parts"
    return (
        f"the noise of the layer on qubits {list(layer.qubits)} erases the Pauli {label} "
        f"(fidelity {value:.3g}), so it has no Pauli-Lindblad rates; the fidelity is lost to: "
        f"{named}"
    )


def _factors(
    layer: Layer,
    noise: DeviceNoise,
    pauli: Pauli,
    tables: dict[int, tuple[Any, dict[str, float]]],
) -> Iterator[tuple[str, float]]:
    """The fidelities of ``pauli`` (local indices) under the parts of the layer's twirled
    channel (each gate's error, each readout error, each dressing gate's error), with the noise
    referred to the undressed side of the box (the module's docstring); the layer's fidelity
    is their product. Each part comes with what it is, for error messages."""
    local = {q: k for k, q in enumerate(layer.qubits)}
    frame = pauli
    if layer.dressing_side == "right" and layer.clifford is not None:
        # Noise before the gates: the errors that come after them act on U Q U^+.
        frame = pauli.evolve(layer.clifford, frame="s")
    label = frame.to_label().lstrip("-i")
    for gate in layer.gates:
        if gate.name == "measure":
            qubit = gate.qubits[0]
            flips = noise.readout_errors.get(qubit, (0.0, 0.0))
            # Only Z-like information survives a measurement; a flip anticommutes with Z and Y.
            if label[len(layer.qubits) - 1 - local[qubit]] in "ZY":
                yield (
                    f"the readout error of qubit {qubit} (P(1|0) + P(0|1) = "
                    f"{flips[0] + flips[1]:.3g})",
                    1.0 - flips[0] - flips[1],
                )
            continue
        channel = noise.gate_errors.get(gate)
        if channel is not None:
            positions = tuple(local[q] for q in gate.qubits)
            yield (
                f"the error of {gate.name} on qubits {list(gate.qubits)}",
                pl.label_fidelity(_table(channel, tables), label, positions),
            )
    if not layer.dressing or (layer.protocol == "trex" and layer.dressing_side == "right"):
        return
    dressing_label = label
    if layer.dressing_side == "left" and layer.clifford is not None:
        # Noise after the gates: the dressing's errors, before them, act on U^+ Q U.
        dressing_label = pauli.evolve(layer.clifford, frame="h").to_label().lstrip("-i")
    for qubit in layer.qubits:
        for name in layer.dressing:
            channel = noise.gate_errors.get(GateRef(name, (qubit,)))
            if channel is not None:
                yield (
                    f"the error of {name} on qubit {qubit} (the twirl's dressing)",
                    pl.label_fidelity(_table(channel, tables), dressing_label, (local[qubit],)),
                )


def _table(channel: Any, tables: dict[int, tuple[Any, dict[str, float]]]) -> dict[str, float]:
    """Pauli fidelities of a channel, computed once per channel object of the job's answer
    (``tables`` lives as long as the job: executors may answer every query with new objects,
    so a cache across jobs would only grow)."""
    cached = tables.get(id(channel))
    if cached is not None and cached[0] is channel:
        return cached[1]
    table = pl.channel_fidelities(channel)
    tables[id(channel)] = (channel, table)
    return table


def _v3_text(
    prepared: PreparedNoiseLearning, results: Sequence[_LayerRates], server: dict[str, Any]
) -> str:
    depths = [int(d) for d in prepared.options.get("layer_pair_depths") or []]
    data = []
    for layer, result in zip(prepared.layers, results, strict=True):
        metadata: TREXResultMetadataModel | LinbdbladResultMetadataModel
        if layer.protocol == "trex":
            metadata = TREXResultMetadataModel(
                post_selection=TREXResultPostSelectionMetadataModel(
                    fraction_kept=1.0, success_rates={}
                )
            )
        else:
            metadata = LinbdbladResultMetadataModel(
                post_selection=LinbdbladResultPostSelectionMetadataModel(
                    fraction_kept=dict.fromkeys(depths, 1.0), success_rates={}
                )
            )
        data.append(
            NoiseLearnerV3ResultModel(
                generators_sparse=[[(label, list(qubits))] for label, qubits in result.generators],
                num_qubits=len(layer.qubits),
                rates=F64TensorModel.from_numpy(np.asarray(result.rates, dtype=np.float64)),
                rates_std=F64TensorModel.from_numpy(np.zeros(len(result.generators))),
                metadata=metadata,
            )
        )
    document = json.loads(NoiseLearnerV3ResultsModel(data=data).model_dump_json())
    # The schema has no place for it; the client's model ignores it, the raw result keeps it.
    document["metadata"] = {
        "qiskit_runtime_server": {
            **server,
            "qubits": [list(layer.qubits) for layer in prepared.layers],
        }
    }
    return json.dumps(document)


def _v2_text(
    prepared: PreparedNoiseLearning,
    backend: VirtualBackend,
    results: Sequence[_LayerRates],
    server: dict[str, Any],
) -> str:
    data = []
    for layer, result in zip(prepared.layers, results, strict=True):
        n = len(layer.qubits)
        generators = PauliList([pl.to_pauli(term, n) for term in result.generators])
        error = PauliLindbladError(generators, np.asarray(result.rates, dtype=float))
        data.append(LayerError(layer.circuit, list(layer.qubits), error))
    options = {k: v for k, v in prepared.options.items() if k != "simulator"}
    text = json.dumps(
        {
            "data": data,
            "metadata": {
                "backend": backend.name,
                "input_options": options,
                "qiskit_runtime_server": server,
            },
        },
        cls=RuntimeEncoder,
    )
    if "schema_version" in text:  # the client would decode it as v3
        raise ValueError("a v2 noise-learner result must not contain 'schema_version'")
    return text


def prepare(
    raw_params: Any,
    backend: VirtualBackend,
    *,
    validate: Callable[[SamplerTask], None] | None,
) -> PreparedTask:
    """A ``noise-learner`` job: its record's facts, and how a worker runs it. ``validate`` is
    the executor's own check (``qiskit_runtime_validate``, given at submission only), which
    sees the user's ``simulator.noise_model`` on an otherwise empty sampler task."""
    learning = prepare_noise_learning(raw_params, backend)
    if validate is not None and (task := validation_task(learning, backend)) is not None:
        validate(task)

    def run(job_run: JobRun) -> str:
        return learn_noise(learning, backend, job_run.plugins, job_run.log)

    return PreparedTask(
        program_id="noise-learner",
        executor=backend.executor.info.name,
        backend_name=backend.name,
        ignored_options=list(learning.ignored_options),
        num_circuits=learning.num_layers,
        executions=learning.cost,
        circuits=list(learning.circuits),
        run=run,
        mock=lambda: mock_noise_learning(learning, backend),
    )
