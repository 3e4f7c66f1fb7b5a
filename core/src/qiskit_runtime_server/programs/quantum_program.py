"""The ``executor`` program: QuantumPrograms (schema v2.0), what the client-side primitives send.

``Executor.run(program)``, ``executor_sampler.Sampler`` and ``executor_estimator.Estimator``
(the primitives IBM is moving to) all send ``program_id: "executor"`` with the params of
``ibm_quantum_schemas.executor.version_2_0.ParamsModel``. A program is a list of items, each a
circuit with a shape of parameter sets:

- a *circuit item* binds its ``circuit_arguments`` (shape ``(*sweep, num_parameters)``);
- a *samplex item* gets its parameter sets from a samplomatic samplex (twirling, basis changes,
  injected noise), sampled once per element of the item's shape, as the client's own reference
  does (``qiskit_ibm_runtime.fake_provider.executor.broadcast_sample``).

This is not a second simulator: every item becomes one :class:`SamplerPub` (its circuit, its
parameter sets, the program's shots) of one :class:`SamplerTask`, which the backend's executor
runs through ``qiskit_runtime_execute`` like any sampler job, device noise and method choice
included. Every executor that runs ``sampler`` jobs therefore runs QuantumPrograms with no code
of its own. The per-shot bits come back as one boolean array per classical register of shape
``(*item_shape, shots, register_size)``; the samplex outputs (``measurement_flips.*``,
``pauli_signs``) join them, and ``passthrough_data`` and ``semantic_role`` are echoed, so that
the client's post-processing turns the result into the sampler's or estimator's
``PrimitiveResult``.

Decoding uses the schema's pydantic models and the client's own converter, never a codec of
ours. Everything that can be known at submission is checked then, so a bad program gets a 400
and is never stored; sampling the samplexes waits for the worker.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import qiskit
import qiskit.qpy
from pydantic import ValidationError
from qiskit import QuantumCircuit
from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.sampler_pub import SamplerPub

from ..circuits import with_standard_instructions
from ..errors import InvalidRequest
from ..jobs.dry_run import mock_result
from ..metadata import add_server_metadata
from ..tasks import SamplerTask, TaskOptions
from .prepared import JobRun, PreparedTask

if TYPE_CHECKING:
    from samplomatic.quantum_program import CircuitItem, SamplexItem

    from ..catalogue import VirtualBackend

PROGRAM_ID = "executor"
SCHEMA_VERSION = "v2.0"

#: Executor options a simulator cannot act on: a simulated shot always starts from |0>, and
#: there is no hardware schedule to report.
_UNSIMULATED_OPTIONS: Mapping[str, Callable[[Any], bool]] = {
    "init_qubits": lambda value: value is False,
    "rep_delay": lambda value: value is not None,
    "scheduler_timing": lambda value: value is True,
    "stretch_values": lambda value: value is True,
}


@dataclass(frozen=True)
class ProgramItem:
    """One item of a QuantumProgram, decoded: the circuit an executor runs and where its
    parameter sets come from."""

    circuit: QuantumCircuit
    shape: tuple[int, ...]
    #: The client's decoded item (``CircuitItem`` or ``SamplexItem`` of samplomatic).
    source: CircuitItem | SamplexItem
    #: Shots of this item where they differ from the program's (None: the program's). A
    #: QuantumProgram sent by a client has one number of shots; the mitigated estimator runs
    #: its TREX calibration item with ``measure_noise_learning.shots_per_randomization``.
    shots: int | None = None

    def shots_in(self, job: QuantumProgramJob) -> int:
        """The shots each parameter set of this item runs in ``job``."""
        return job.shots if self.shots is None else self.shots

    @property
    def is_samplex(self) -> bool:
        return hasattr(self.source, "samplex")

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class QuantumProgramJob:
    """A decoded, checked QuantumProgram and the parts of its params echoed in its result."""

    shots: int
    items: tuple[ProgramItem, ...]
    #: ``passthrough_data`` exactly as sent (JSON), echoed verbatim into the result.
    passthrough_data: Any
    semantic_role: str | None
    #: Dotted option paths that were set but that a simulator cannot act on.
    ignored_options: tuple[str, ...]

    @property
    def circuits(self) -> list[QuantumCircuit]:
        return [item.circuit for item in self.items]

    @property
    def executions(self) -> int:
        """Shots times parameter sets, summed over items: what the executions limit counts."""
        return sum(item.shots_in(self) * item.size for item in self.items)

    @property
    def num_circuits(self) -> int:
        return sum(item.size for item in self.items)


def decode_program(raw_params: Any) -> QuantumProgramJob:
    """Decode ``params`` of an ``executor`` job, or raise InvalidRequest saying what is wrong.

    Refused here: another schema version, params that do not fit the schema, a QPY version
    newer than this server's Qiskit reads, circuits that do not deserialise, a samplex that
    does not deserialise or lacks arguments, items whose shapes do not fit their circuits, and
    measurement levels other than ``classified`` (a simulator has no kerneled data)."""
    from ibm_quantum_schemas.executor.version_2_0 import ParamsModel

    if not isinstance(raw_params, dict):
        raise InvalidRequest("'params' must be an object: a QuantumProgram of schema v2.0")
    version = raw_params.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InvalidRequest(
            f"the executor program reads QuantumPrograms of schema_version {SCHEMA_VERSION!r}, "
            f"got {version!r}"
        )
    try:
        model = ParamsModel.model_validate(raw_params)
    except ValidationError as error:
        raise InvalidRequest(
            f"'params' is not a valid QuantumProgram: {_first_errors(error)}"
        ) from None
    except Exception as error:  # the models' own decoders (zlib, base64) raise their errors
        raise InvalidRequest(
            f"the QuantumProgram could not be decoded: {type(error).__name__}: {error}"
        ) from None
    program_model = model.quantum_program
    if program_model.meas_level != "classified":
        raise InvalidRequest(
            f"meas_level {program_model.meas_level!r} is not available on a simulator: "
            "only 'classified' (bits) is"
        )
    circuits_model = program_model.circuits
    qpy_version = getattr(circuits_model, "qpy_version", None)
    if qpy_version is not None and qpy_version > qiskit.qpy.QPY_VERSION:
        raise InvalidRequest(
            f"the circuits are QPY version {qpy_version}, newer than this server's Qiskit "
            f"{qiskit.__version__} reads (QPY {qiskit.qpy.QPY_VERSION}): upgrade the server's "
            "Qiskit, or serialise with an older client"
        )
    items = _decode_items(model)
    if not items:
        raise InvalidRequest("the QuantumProgram has no items")
    options = model.options
    ignored = [
        name
        for name, unsimulated in _UNSIMULATED_OPTIONS.items()
        if unsimulated(getattr(options, name))
    ]
    ignored += [f"experimental.{key}" for key in options.experimental]
    ignored += _unknown_fields(raw_params, model, "params.")
    quantum_program = raw_params["quantum_program"]
    return QuantumProgramJob(
        shots=program_model.shots,
        items=tuple(items),
        passthrough_data=quantum_program.get("passthrough_data"),
        semantic_role=program_model.semantic_role,
        ignored_options=tuple(ignored),
    )


def _decode_items(model: Any) -> list[ProgramItem]:
    """The items as the client's converter decodes them, each circuit's shape checked."""
    from qiskit_ibm_runtime.quantum_program.converters.converters_2_0 import (
        quantum_program_from_2_0,
    )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QPY and samplomatic version chatter
            program, _ = quantum_program_from_2_0(model)
    except Exception as error:  # what the QPY reader or samplomatic raise varies by version
        raise InvalidRequest(
            f"the QuantumProgram could not be decoded: {type(error).__name__}: {error}"
        ) from None
    items: list[ProgramItem] = []
    for index, source in enumerate(program.items):
        circuit = source.circuit
        if hasattr(source, "samplex"):
            shape = tuple(int(n) for n in source.shape)
            try:
                _check_samplex_item(source)
            except InvalidRequest as error:
                raise InvalidRequest(f"item {index}: {error.message}") from None
            except Exception as error:  # samplomatic's and rustworkx's own errors
                raise InvalidRequest(
                    f"item {index}: the samplex cannot be used: {type(error).__name__}: {error}"
                ) from None
        else:
            # samplomatic's CircuitItem has checked that the last axis holds the parameters.
            arguments = np.asarray(source.circuit_arguments)
            if not np.all(np.isfinite(arguments)):
                raise InvalidRequest(f"item {index}: circuit_arguments must be finite numbers")
            shape = tuple(int(n) for n in arguments.shape[:-1])
        if any(n < 0 for n in shape):
            raise InvalidRequest(f"item {index}: shape {shape} is not a shape")
        items.append(ProgramItem(circuit=circuit, shape=shape, source=source))
    return items


def _unknown_fields(raw: Any, model: Any, path: str) -> list[str]:
    """Paths of the fields in ``raw`` that ``model`` (the schema's pydantic model, which
    ignores extra fields) has no place for: listed as not applied rather than lost."""
    from pydantic import BaseModel

    if isinstance(model, BaseModel) and isinstance(raw, dict):
        fields = type(model).model_fields
        unknown: list[str] = []
        for key, value in raw.items():
            if key == "passthrough_data":  # the client's own data, echoed as sent
                continue
            if key not in fields:
                unknown.append(f"{path}{key}")
            else:
                unknown += _unknown_fields(value, getattr(model, key), f"{path}{key}.")
        return unknown
    if isinstance(model, list) and isinstance(raw, list):
        return [
            field
            for index, (raw_item, model_item) in enumerate(zip(raw, model, strict=False))
            for field in _unknown_fields(raw_item, model_item, f"{path}{index}.")
        ]
    if isinstance(model, dict) and isinstance(raw, dict):
        return [
            field
            for key, value in raw.items()
            if key in model
            for field in _unknown_fields(value, model[key], f"{path}{key}.")
        ]
    return []


def _check_samplex_item(item: SamplexItem) -> None:
    """Everything about a samplex item that would otherwise fail in the worker: a samplex that
    does not finalize or sample, parameter values that do not fit the circuit, arguments that
    are not finite, outputs named like a classical register (one would hide the other)."""
    samplex, circuit = item.samplex, item.circuit
    if not getattr(samplex, "_finalized", True):
        samplex.finalize()
    outputs = {spec.name: spec for spec in samplex.outputs().specs}
    if "parameter_values" in outputs:
        expected = tuple(getattr(outputs["parameter_values"], "shape", ()))[-1:]
        if expected and expected[0] != circuit.num_parameters:
            raise InvalidRequest(
                f"the samplex gives {expected[0]} parameter values but the circuit has "
                f"{circuit.num_parameters} parameters"
            )
    elif circuit.num_parameters:
        raise InvalidRequest(
            f"the circuit has {circuit.num_parameters} parameters and the samplex gives no "
            "parameter values"
        )
    clashes = sorted(set(outputs) & {register.name for register in circuit.cregs})
    if clashes:
        raise InvalidRequest(
            f"classical registers {clashes} have the names of samplex outputs: rename them"
        )
    arguments = item.samplex_arguments
    for name, value in arguments.items():
        numbers = getattr(value, "rates", value)
        is_float_array = isinstance(numbers, np.ndarray) and numbers.dtype.kind in "fc"
        if is_float_array and not np.all(np.isfinite(numbers)):
            raise InvalidRequest(f"samplex argument {name!r} must hold finite numbers")
    if 0 not in arguments.shape:
        # One randomization of the first element: what the worker will do, at a tiny cost.
        first = arguments[(0,) * arguments.ndim] if arguments.ndim else arguments
        samplex.sample(first, num_randomizations=1, rng=np.random.default_rng(0))


def _first_errors(error: ValidationError, limit: int = 3) -> str:
    parts = []
    for detail in error.errors()[:limit]:
        location = ".".join(str(part) for part in detail["loc"])
        parts.append(f"{location}: {detail['msg']}")
    more = error.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True)
class SampledItem:
    """An item ready to run: its PUB, and the samplex outputs that join its bits."""

    pub: SamplerPub
    samplex_outputs: Mapping[str, np.ndarray]


def sample_items(
    job: QuantumProgramJob, rng: np.random.Generator | None = None
) -> list[SampledItem]:
    """Turn every item into one SamplerPub: circuit items bind their arguments, samplex items
    are sampled once per element of their shape (broadcast axes from the arguments, the rest
    randomizations), as the client's reference simulation does."""
    from qiskit_ibm_runtime.fake_provider.executor.broadcast_sample import broadcast_sample

    rng = rng if rng is not None else np.random.default_rng()
    sampled: list[SampledItem] = []
    for item in job.items:
        circuit = with_standard_instructions(item.circuit)
        outputs: dict[str, np.ndarray] = {}
        if item.is_samplex:
            source: Any = item.source
            outputs = broadcast_sample(source.samplex, source.samplex_arguments, item.shape, rng)
            values = outputs.pop("parameter_values", None)
            if values is None:
                values = np.zeros((*item.shape, 0))
        else:
            values = np.asarray(item.source.circuit_arguments, dtype=float)
        bindings = BindingsArray({tuple(circuit.parameters): values}, shape=item.shape)
        pub = SamplerPub(circuit, bindings, item.shots_in(job), validate=False)
        sampled.append(SampledItem(pub=pub, samplex_outputs=outputs))
    return sampled


def sampler_task(
    sampled: Sequence[SampledItem],
    *,
    job_id: str,
    backend: VirtualBackend,
) -> SamplerTask:
    """The sampler task that runs a program's items on the backend's executor."""
    return SamplerTask(
        job_id=job_id,
        executor=backend.executor.info.name,
        backend_name=backend.name,
        backend=backend.description,
        options=TaskOptions(),
        pubs=tuple(item.pub for item in sampled),
    )


def item_arrays(item: SampledItem, pub_result: Any) -> dict[str, np.ndarray]:
    """An item's data as a QuantumProgram result holds it: one boolean array per classical
    register of shape ``(*item_shape, shots, register_size)`` (column j is clbit j), and the
    samplex outputs."""
    arrays: dict[str, np.ndarray] = {}
    for name, bits in pub_result.data.items():
        arrays[name] = bits.to_bool_array(order="little").reshape(
            *item.pub.shape, bits.num_shots, bits.num_bits
        )
    arrays.update(item.samplex_outputs)
    return arrays


def result_document(
    job: QuantumProgramJob,
    sampled: Sequence[SampledItem],
    result: PrimitiveResult,
    *,
    started: datetime | None = None,
    stopped: datetime | None = None,
) -> dict[str, Any]:
    """The result IBM returns for a QuantumProgram (``QuantumProgramResultModel``, v2.0) as
    JSON-ready data: per item, one boolean array per classical register of shape
    ``(*item_shape, shots, register_size)`` (column j is clbit j) and the samplex outputs."""
    from ibm_quantum_schemas.common import CompressedTensorModel
    from ibm_quantum_schemas.executor.version_2_0.models import (
        ChunkPart,
        ChunkSpan,
        ItemMetadataModel,
        MetadataModel,
        QuantumProgramResultItemModel,
        QuantumProgramResultModel,
    )

    items = []
    for item, pub_result in zip(sampled, result, strict=True):
        arrays = item_arrays(item, pub_result)
        items.append(
            QuantumProgramResultItemModel(
                results={
                    name: CompressedTensorModel.from_numpy(np.ascontiguousarray(array))
                    for name, array in arrays.items()
                },
                metadata=ItemMetadataModel(),
            )
        )
    now = datetime.now(UTC)
    span = ChunkSpan(
        start=started or now,
        stop=stopped or now,
        parts=[
            ChunkPart(
                idx_item=index,
                size=item.pub.size,
                permutation=list(range(len(item.pub.shape))),
                element_range=(0, item.pub.size, 1),
            )
            for index, item in enumerate(sampled)
        ],
    )
    model = QuantumProgramResultModel(
        data=items,
        metadata=MetadataModel(chunk_timing=[span]),
        semantic_role=job.semantic_role,
    )
    document: dict[str, Any] = model.model_dump(mode="json")
    # Echoed as sent: the client's post-processor reads its own encoding back.
    document["passthrough_data"] = job.passthrough_data
    return document


def prepare(
    raw_params: Any,
    backend: VirtualBackend,
    *,
    job_id: str,
    check: Callable[[SamplerTask, list[QuantumCircuit]], None] | None,
) -> PreparedTask:
    """An ``executor`` job: its record's facts, and how a worker runs it (one sampler task on
    the backend's executor). ``check`` is the core's check of PUBs against the backend (qubit
    counts, ISA, rzz angles, the executor's own validation), given at submission only: it sees
    one set of zeros per samplex item, whose parameter values are drawn in the worker."""
    info = backend.executor.info
    if "sampler" not in info.programs:
        raise InvalidRequest(
            f"the {info.name!r} executor behind {backend.name} does not sample circuits, "
            "which the 'executor' program needs"
        )
    program = decode_program(raw_params)
    ignored = list(program.ignored_options)
    if check is not None:
        check(
            SamplerTask(
                job_id=job_id,
                executor=info.name,
                backend_name=backend.name,
                backend=backend.description,
                options=TaskOptions(),
                pubs=tuple(_check_pub(item) for item in program.items),
            ),
            program.circuits,
        )

    def run(job_run: JobRun) -> str:
        sampled = sample_items(program)
        task = job_run.task(sampler_task(sampled, job_id=job_id, backend=backend))
        started = datetime.now(UTC)
        result = job_run.plugins.execute(task)
        stopped = datetime.now(UTC)
        add_server_metadata(result, task, ignored)
        document = result_document(program, sampled, result, started=started, stopped=stopped)
        return json.dumps(_with_server_metadata(document, result))

    def mock() -> str:
        sampled = sample_items(program)
        task = sampler_task(sampled, job_id=job_id, backend=backend)
        result = mock_result(task, ignored)
        document = result_document(program, sampled, result)
        return json.dumps(_with_server_metadata(document, result))

    return PreparedTask(
        program_id=PROGRAM_ID,
        executor=info.name,
        backend_name=backend.name,
        ignored_options=ignored,
        num_circuits=program.num_circuits,
        executions=program.executions,
        circuits=program.circuits,
        run=run,
        mock=mock,
    )


def _check_pub(item: ProgramItem) -> SamplerPub:
    """A PUB for the submission checks: the item's own arguments for a circuit item (so its
    rzz angles are checked), one set of zeros for a samplex item."""
    circuit = item.circuit
    if item.is_samplex:
        values = BindingsArray({tuple(circuit.parameters): np.zeros(circuit.num_parameters)})
    else:
        values = BindingsArray({tuple(circuit.parameters): item.source.circuit_arguments})
    return SamplerPub(circuit, values, 1, validate=False)


def _with_server_metadata(document: dict[str, Any], result: PrimitiveResult) -> dict[str, Any]:
    """The server's own metadata (what ran the job, ignored options, derived calibrations)
    next to the schema's; the client's decoder passes over it."""
    for key in ("qiskit_runtime_server", "derived_calibrations"):
        if key in result.metadata:
            document["metadata"][key] = result.metadata[key]
    return document
