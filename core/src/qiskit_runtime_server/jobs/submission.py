"""Turning a ``POST /jobs`` body into a stored job record and the work its program does.

Everything that can be known before the job runs is checked here, so that a bad request gets a
4xx and never becomes a job: unknown program or backend, an unavailable executor, params that do
not decode, PUBs of the wrong shape, too many qubits, invalid shots, precision and options.
A job on a mock backend (a dry run) passes the same checks and is stored already completed
with random data (``dry_run.py``).

The ``sampler`` and ``estimator`` programs are prepared here; ``executor`` (QuantumPrograms)
and ``noise-learner`` have their own modules under ``programs/``. Each becomes a
:class:`PreparedTask`: what the job record says about it, and how a worker runs it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import qiskit
from qiskit import QuantumCircuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_ibm_runtime import RuntimeEncoder
from qiskit_ibm_runtime.utils.utils import is_isa_circuit, is_valid_rzz_pub

from ..catalogue import Catalogue, VirtualBackend
from ..circuits import active_qubits, undefined_instructions, with_standard_instructions
from ..errors import InvalidRequest, NotFound
from ..metadata import add_server_metadata
from ..programs import quantum_program
from ..programs.prepared import JobRun, PreparedTask
from ..tasks import DEFAULT_PRECISION, EstimatorTask, ExecutionTask, SamplerTask, TaskOptions
from .blobs import compress
from .decoding import decode_params
from .dry_run import mock_result
from .models import JobRecord, JobStatus, new_id, utcnow

PROGRAMS = ("sampler", "estimator", "executor", "noise-learner")
MAX_TAGS = 100
MAX_TAG_LENGTH = 256
#: Option values that are single settings even though they are (or decode to) mappings.
_LEAF_OPTIONS = frozenset({"simulator.noise_model"})


@dataclass
class Submission:
    """A validated ``POST /jobs``: the record and params text to store, and the task."""

    record: JobRecord
    params: str
    prepared: PreparedTask
    #: For a dry run: the backend it stands for. The record is then already completed, with
    #: ``result`` (compressed RuntimeEncoder text) to store with it.
    dry_run_of: str | None = None
    result: bytes | None = None


def option_paths(options: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every option the client set (the client sends only those)."""
    paths: list[str] = []
    for key, value in options.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and path not in _LEAF_OPTIONS:
            paths.extend(option_paths(value, f"{path}."))
        else:
            paths.append(path)
    return paths


def find_backend(catalogue: Catalogue, name: Any) -> VirtualBackend:
    if not isinstance(name, str) or not name:
        raise InvalidRequest("'backend' is required: the name of a backend from GET /backends")
    backend = catalogue.get(name)
    if backend is None:
        raise NotFound(catalogue.not_found(name))
    return backend


def prepare_task(
    program_id: Any,
    backend_name: Any,
    raw_params: Any,
    *,
    job_id: str,
    catalogue: Catalogue,
    default_shots: int,
    accepted: bool = False,
) -> PreparedTask:
    """Decode and check a job's inputs and build its task. The server calls this when a job is
    submitted (to refuse bad input with a 4xx) and the worker again, to run it: the worker
    passes ``accepted`` for params that passed these checks at submission, which skips the
    checks that only refuse (qubit counts, ISA, the executor's own validation)."""
    if not isinstance(program_id, str) or not program_id:
        raise InvalidRequest(f"'program_id' is required: one of {', '.join(PROGRAMS)}")
    if program_id not in PROGRAMS:
        raise NotFound(f"program {program_id!r} was not found; available: {', '.join(PROGRAMS)}")
    backend = find_backend(catalogue, backend_name)
    info = backend.executor.info
    if not backend.available:
        raise InvalidRequest(
            f"backend {backend.name} is not available: {backend.unavailable_reason}"
        )
    if program_id == "executor":

        def check(task: SamplerTask, circuits: list[QuantumCircuit]) -> None:
            _check(task, circuits, backend, catalogue, what="item")

        return quantum_program.prepare(
            raw_params, backend, job_id=job_id, check=None if accepted else check
        )
    if program_id == "noise-learner":
        from ..programs import noise_learner  # samplomatic's transpiler: imported when needed

        def validate(task: SamplerTask) -> None:
            _validate_with_executor(task, catalogue)

        return noise_learner.prepare(raw_params, backend, validate=None if accepted else validate)
    if program_id not in info.programs:
        raise InvalidRequest(
            f"the {info.name!r} executor behind {backend.name} does not run {program_id!r} jobs"
        )
    if not isinstance(raw_params, dict):
        raise InvalidRequest("'params' must be an object with 'pubs' (and optional 'options')")
    version = raw_params.get("version", 2)
    if version != 2:
        raise InvalidRequest(f"only version 2 primitives are supported, got version {version!r}")
    params = decode_params(raw_params)
    options = params.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidRequest("'params.options' must be an object")
    if "resilience_level" in params:
        options = {**options, "resilience_level": params["resilience_level"]}
    task_options = _task_options(options)
    pubs_in = params.get("pubs")
    if not isinstance(pubs_in, list) or not pubs_in:
        raise InvalidRequest("'params.pubs' must be a non-empty list of PUBs")

    common: dict[str, Any] = {
        "job_id": job_id,
        "executor": info.name,
        "backend_name": backend.name,
        "backend": backend.description,
        "options": task_options,
    }
    task: ExecutionTask
    if program_id == "sampler":
        shots = _positive_int(options.get("default_shots", default_shots), "default_shots")
        sampler_pubs = tuple(_sampler_pub(pub, index, shots) for index, pub in enumerate(pubs_in))
        task = SamplerTask(pubs=tuple(map(_standard_sampler_pub, sampler_pubs)), **common)
        executions = sum(pub.size * (pub.shots or 0) for pub in sampler_pubs)
        circuits = [pub.circuit for pub in sampler_pubs]
        sizes = [pub.size for pub in sampler_pubs]
    else:
        precision = _default_precision(options)
        estimator_pubs = tuple(
            _estimator_pub(pub, index, precision) for index, pub in enumerate(pubs_in)
        )
        task = EstimatorTask(pubs=tuple(map(_standard_estimator_pub, estimator_pubs)), **common)
        executions = sum(
            pub.size * math.ceil(1 / (pub.precision or DEFAULT_PRECISION) ** 2)
            for pub in estimator_pubs
        )
        circuits = [pub.circuit for pub in estimator_pubs]
        sizes = [pub.size for pub in estimator_pubs]

    if not accepted:
        _check(task, circuits, backend, catalogue)
    ignored = [path for path in option_paths(options) if not info.honours(path)]
    mitigated = None
    if isinstance(task, EstimatorTask):
        # On a noisy backend IBM's resilience options are applied (programs/mitigated_estimator).
        from ..programs import mitigated_estimator  # samplomatic: imported when needed

        mitigated_estimator.learning_options(options)  # bad values: a 400 on every backend
        if mitigated_estimator.mitigation_applies(backend, task):
            honoured = set(mitigated_estimator.honoured_paths(ignored, options))
            ignored = [path for path in ignored if path not in honoured]
            mitigated = mitigated_estimator.plan(task, backend, options, ignored)
            if mitigated is not None:
                # What the mitigated run simulates where it is more: the twirling and TREX
                # options set shots of their own (``twirling.num_randomizations`` x
                # ``shots_per_randomization``, ``measure_noise_learning.shots_per_randomization``),
                # which 1/precision^2 does not bound.
                executions = max(executions, mitigated.executions)
    run = _primitive_runner(task, ignored) if mitigated is None else mitigated.runner(ignored)
    return PreparedTask(
        program_id=program_id,
        executor=info.name,
        backend_name=backend.name,
        ignored_options=ignored,
        num_circuits=sum(sizes),
        executions=executions,
        circuits=circuits,
        run=run,
        mock=lambda: json.dumps(mock_result(task, ignored), cls=RuntimeEncoder),
        task=task,
    )


def _primitive_runner(task: ExecutionTask, ignored_options: list[str]) -> Callable[[JobRun], str]:
    def run(job_run: JobRun) -> str:
        return _run_primitive(job_run, task, ignored_options)

    return run


def _run_primitive(job_run: JobRun, task: ExecutionTask, ignored_options: list[str]) -> str:
    """Run a sampler or estimator job: its result as RuntimeEncoder text."""
    task = job_run.task(task)
    result = job_run.plugins.execute(task)
    add_server_metadata(result, task, ignored_options)
    return json.dumps(result, cls=RuntimeEncoder)


def _standard_sampler_pub(pub: SamplerPub) -> SamplerPub:
    """The PUB with IBM's instruction variants made standard, for executors (the ISA check
    looks at the circuit as sent: ``measure_2`` is refused where the device lacks it)."""
    circuit = with_standard_instructions(pub.circuit)
    if circuit is pub.circuit:
        return pub
    return SamplerPub(circuit, pub.parameter_values, pub.shots, validate=False)


def _standard_estimator_pub(pub: EstimatorPub) -> EstimatorPub:
    circuit = with_standard_instructions(pub.circuit)
    if circuit is pub.circuit:
        return pub
    return EstimatorPub(
        circuit, pub.observables, pub.parameter_values, pub.precision, validate=False
    )


def _check(
    task: ExecutionTask,
    circuits: list[QuantumCircuit],
    backend: VirtualBackend,
    catalogue: Catalogue,
    what: str = "PUB",
) -> None:
    """The checks that only refuse: qubit counts, ISA (real devices), the executor's own."""
    info = backend.executor.info
    max_qubits = backend.max_qubits
    for index, circuit in enumerate(circuits):
        if circuit.num_qubits > backend.num_qubits:
            raise InvalidRequest(
                f"{what} {index}: the circuit has {circuit.num_qubits} qubits but {backend.name} "
                f"has {backend.num_qubits}"
            )
        used = len(active_qubits(circuit))
        if used > max_qubits:
            raise InvalidRequest(
                f"{what} {index}: the circuit acts on {used} qubits but the {info.name!r} executor "
                f"simulates at most {max_qubits} on this server"
            )
        if backend.description.simulator:
            # No ISA rule on a simulator, but every instruction must be something to run.
            undefined = undefined_instructions(circuit)
            if undefined:
                raise InvalidRequest(
                    f"{what} {index}: the circuit uses {sorted(undefined)}, which are neither "
                    "standard gates nor defined in terms of other gates: give custom gates a "
                    "definition"
                )
        else:
            # IBM's rule for real devices (and the client's own check): every instruction must
            # be supported by the target on the qubits it acts on.
            problem = is_isa_circuit(circuit, backend.description.backend().target)
            if problem:
                raise InvalidRequest(
                    f"{what} {index}: the circuit is not an ISA circuit for {backend.name}: "
                    f"{problem}. Transpile it for the backend first, for example with "
                    "generate_preset_pass_manager(optimization_level=1, backend=backend)."
                )
    if not backend.description.simulator:
        for index, pub in enumerate(task.pubs):
            # IBM's rule for fractional gates (and the client's): rzz angles in [0, pi/2],
            # bound parameters included. One scan of the circuit when it has no rzz.
            try:
                problem = is_valid_rzz_pub(pub)
            except (TypeError, ValueError) as error:  # an angle that is not a real number
                problem = f"an rzz angle cannot be evaluated: {error}"
            if problem:
                raise InvalidRequest(f"{what} {index}: {problem}")
    _validate_with_executor(task, catalogue)


def _validate_with_executor(task: ExecutionTask, catalogue: Catalogue) -> None:
    """The executor's own check (``qiskit_runtime_validate``): a ValueError refuses the job."""
    try:
        catalogue.plugins.validate(task)
    except ValueError as error:
        raise InvalidRequest(f"the {task.executor!r} executor refuses this job: {error}") from None


def prepare_submission(
    body: Mapping[str, Any],
    *,
    instance: str,
    catalogue: Catalogue,
    default_shots: int,
    max_executions: int | None = None,
) -> Submission:
    """Validate a decoded-as-plain-JSON ``POST /jobs`` body."""
    job_id = new_id()
    prepared = prepare_task(
        body.get("program_id"),
        body.get("backend"),
        body.get("params"),
        job_id=job_id,
        catalogue=catalogue,
        default_shots=default_shots,
    )
    if max_executions is not None and prepared.executions > max_executions:
        counted = {
            "executor": "shots x the size of each item's shape, summed over items",
            "noise-learner": "the size of the fits: generators^2 summed over layers",
        }.get(
            prepared.program_id,
            "shots x parameter sets, summed over PUBs; estimator: 1/precision^2 per set, "
            "or with error mitigation the shots its circuits run where more",
        )
        raise InvalidRequest(
            f"the job asks for {prepared.executions:,} executions ({counted}), more than the "
            f"limit of {max_executions:,}: use fewer shots or parameter sets, or split the job"
        )
    tags = check_tags(body.get("tags") or [])
    cost = body.get("cost")
    if cost is not None and (not isinstance(cost, int) or isinstance(cost, bool) or cost <= 0):
        raise InvalidRequest("'cost' (max_execution_time) must be a positive integer of seconds")
    session_id = body.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise InvalidRequest("'session_id' must be a string")
    backend = find_backend(catalogue, prepared.backend_name)
    _check_calibration(body.get("calibration_id"), backend)
    record = JobRecord(
        id=job_id,
        instance=instance,
        program_id=prepared.program_id,
        backend=prepared.backend_name,
        executor=prepared.executor,
        session_id=session_id,
        tags=sorted(set(tags)),
        private=bool(body.get("private", False)),
        runtime=body.get("runtime") if isinstance(body.get("runtime"), str) else None,
        log_level=body.get("log_level") if isinstance(body.get("log_level"), str) else None,
        max_execution_time=cost,
        num_circuits=prepared.num_circuits,
        num_qubits=[circuit.num_qubits for circuit in prepared.circuits],
        circuit_depths=[circuit.depth() for circuit in prepared.circuits],
        executions=prepared.executions,
        qiskit_version=qiskit.__version__,
    )
    submission = Submission(record=record, params=json.dumps(body["params"]), prepared=prepared)
    if backend.dry_run_of is not None:
        submission.dry_run_of = backend.dry_run_of
        submission.result = compress(prepared.mock())
        record.status = JobStatus.COMPLETED
        record.running_at = record.created
        record.finished_at = utcnow()
    return submission


def _check_calibration(calibration_id: Any, backend: VirtualBackend) -> None:
    """A job pinned to a calibration (``service.backend(name, calibration_id=...)``) runs only
    on that one. A 400, not IBM's 404: the client turns a 404 from ``POST /jobs`` into
    ``RuntimeProgramNotFound("Program not found")``, and any other error into an
    ``IBMRuntimeError`` that shows this message."""
    if calibration_id is None:
        return
    if not isinstance(calibration_id, str):
        raise InvalidRequest("'calibration_id' must be a string")
    problem = backend.unknown_calibration(calibration_id)
    if problem:
        raise InvalidRequest(problem)


def check_tags(tags: Any) -> list[str]:
    if (
        not isinstance(tags, list)
        or len(tags) > MAX_TAGS
        or not all(isinstance(tag, str) and 0 < len(tag) <= MAX_TAG_LENGTH for tag in tags)
    ):
        raise InvalidRequest(
            f"'tags' must be a list of at most {MAX_TAGS} non-empty strings of at most "
            f"{MAX_TAG_LENGTH} characters"
        )
    return list(tags)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) <= 0:
        raise InvalidRequest(f"'{name}' must be a positive integer, got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value) > 0:
        raise InvalidRequest(f"'{name}' must be a positive number, got {value!r}")
    if not math.isfinite(float(value)):
        raise InvalidRequest(f"'{name}' must be finite, got {value!r}")
    return float(value)


def _default_precision(options: Mapping[str, Any]) -> float:
    """Estimator precision: ``default_precision``, else 1/sqrt(``default_shots``), else IBM's."""
    if options.get("default_precision") is not None:
        return _positive_float(options["default_precision"], "default_precision")
    if options.get("default_shots") is not None:
        return 1 / math.sqrt(_positive_int(options["default_shots"], "default_shots"))
    return DEFAULT_PRECISION


def _task_options(options: Mapping[str, Any]) -> TaskOptions:
    simulator = options.get("simulator") or {}
    if not isinstance(simulator, Mapping):
        raise InvalidRequest("'options.simulator' must be an object")
    seed = simulator.get("seed_simulator")
    if seed is not None:
        seed = _seed(seed, "simulator.seed_simulator")
    seed_estimator = options.get("seed_estimator")
    if seed_estimator is not None:
        seed_estimator = _seed(seed_estimator, "seed_estimator")
    coupling_map = simulator.get("coupling_map")
    if coupling_map is not None:
        if not isinstance(coupling_map, list) or not all(
            isinstance(edge, list | tuple)
            and len(edge) == 2
            and all(isinstance(q, int) and not isinstance(q, bool) and q >= 0 for q in edge)
            for edge in coupling_map
        ):
            raise InvalidRequest(
                "'simulator.coupling_map' must be a list of [control, target] qubit pairs"
            )
        coupling_map = tuple((int(a), int(b)) for a, b in coupling_map)
    basis_gates = simulator.get("basis_gates")
    if basis_gates is not None:
        if not isinstance(basis_gates, list) or not all(isinstance(g, str) for g in basis_gates):
            raise InvalidRequest("'simulator.basis_gates' must be a list of gate names")
        basis_gates = tuple(basis_gates)
    return TaskOptions(
        seed_simulator=seed,
        seed_estimator=seed_estimator,
        noise_model=simulator.get("noise_model"),
        coupling_map=coupling_map,
        basis_gates=basis_gates,
        raw=dict(options),
    )


def _seed(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= int(value) < 2**63:
        raise InvalidRequest(f"'{name}' must be an integer between 0 and 2**63-1, got {value!r}")
    return int(value)


def _pub_tuple(pub: Any, index: int, sizes: tuple[int, ...]) -> tuple[Any, ...]:
    if not isinstance(pub, list | tuple) or len(pub) not in sizes:
        raise InvalidRequest(
            f"PUB {index} must be a list of {' or '.join(map(str, sizes))} items, got {pub!r:.80}"
        )
    if not isinstance(pub[0], QuantumCircuit):
        raise InvalidRequest(f"PUB {index}: the first item must be an encoded QuantumCircuit")
    return tuple(pub)


def _sampler_pub(pub: Any, index: int, shots: int) -> SamplerPub:
    items = _pub_tuple(pub, index, (1, 2, 3))
    if len(items) == 3 and items[2] is not None:
        _positive_int(items[2], f"PUB {index} shots")
    try:
        return SamplerPub.coerce(items, shots)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"PUB {index} is not a valid sampler PUB: {exc}") from None


def _estimator_pub(pub: Any, index: int, precision: float) -> EstimatorPub:
    items = _pub_tuple(pub, index, (2, 3, 4))
    if len(items) == 4 and items[3] is not None:
        _positive_float(items[3], f"PUB {index} precision")
    try:
        return EstimatorPub.coerce(items, precision)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidRequest(f"PUB {index} is not a valid estimator PUB: {exc}") from None
