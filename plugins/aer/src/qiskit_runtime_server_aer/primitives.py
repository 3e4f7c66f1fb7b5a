"""Running sampler and estimator tasks on Qiskit Aer.

* Sampler: an AerSimulator carrying the noise model, sampled by sampling.py: fake devices get the
  device's noise (built once per backend), the ideal device none, and a user's
  ``simulator.noise_model`` replaces either.
* Estimator with noise: measured in Pauli bases with ceil(1/precision^2) shots per PUB, as
  qiskit-ibm-runtime's local testing mode does (``BackendEstimatorV2``), so readout error
  is included and ``stds`` are the real standard errors. Opt-in: exact expectation values per
  noisy trajectory (expectations.py).
* Estimator without noise: exact expectation values from the statevector, to which Gaussian
  noise of standard deviation ``precision`` is added, as Qiskit's reference estimator does
  (seeded by ``seed_estimator``, else ``simulator.seed_simulator``); ``stds`` is ``precision``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import qiskit_aer
from qiskit import QuantumCircuit
from qiskit.primitives import BackendEstimatorV2, PrimitiveResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_runtime_server import (
    Availability,
    EstimatorTask,
    ExecutionTask,
    ExecutorInfo,
    SamplerTask,
)
from qiskit_runtime_server.circuits import active_qubits
from qiskit_runtime_server.results import sampler_pub_result

from . import __version__, capacity, mps_batch
from .approximation import DOCUMENTED_BIAS, approximate, requested
from .approximation import OPTION as APPROXIMATION_OPTION
from .constraints import check_circuit
from .expectations import NOTE as EXPECTATIONS_NOTE
from .expectations import OPTION as EXPECTATIONS_OPTION
from .expectations import estimate as estimate_per_trajectory
from .expectations import requested_trajectory_expectations, trajectory_count, unitary_part
from .method import (
    DENSITY_MATRIX_MAX_QUBITS,
    LONG_PLAN_SECONDS,
    SUBMIT_PROBE_SECONDS,
    NoiseKind,
    Plan,
    parallel_states,
    plan_noiseless,
    plan_noisy,
    relabel_observable,
)
from .mps_backend import BatchedMpsSimulator
from .noise import NoiseModelCache, is_pauli_noise, user_noise_model
from .sampling import sample
from .shapes import empty_result, estimate_nonempty, is_empty, one_binding
from .sweeps import simulator_class
from .trajectories import sample_trajectories
from .trajectory_count import OPTION as TRAJECTORIES_OPTION
from .trajectory_count import (
    approximation_label,
    requested_trajectories,
    validate_trajectories,
)
from .translation import for_aer

EXECUTOR_NAME = "aer"
SAMPLER_PRIMITIVE = "AerSimulator counts, shots in a random order (sampling.py)"

HONOURED_OPTIONS = frozenset(
    {
        "simulator.seed_simulator",
        "simulator.noise_model",
        "simulator.coupling_map",
        "simulator.basis_gates",
        "seed_estimator",
        APPROXIMATION_OPTION,
        TRAJECTORIES_OPTION,
        EXPECTATIONS_OPTION,
    }
)


def describe() -> ExecutorInfo:
    """The widest circuit is the stabilizer method's (any Clifford circuit); narrower limits
    depend on the circuit and are the planner's (method.py), checked per PUB at submit."""
    return ExecutorInfo(
        name=EXECUTOR_NAME,
        version=__version__,
        device="CPU",
        programs=frozenset({"sampler", "estimator"}),
        simulates_noise=True,
        max_qubits=capacity.stabilizer_qubit_limit(),
        availability=Availability.ok(),
        honoured_options=HONOURED_OPTIONS,
        description=f"Qiskit Aer {qiskit_aer.__version__} on CPU, with device noise models",
    )


class AerPrimitives:
    """One per process. Holds the noise-model cache."""

    def __init__(self) -> None:
        self.noise_models = NoiseModelCache()

    def _approximate(self, noise: NoiseModel | None, name: str | None) -> NoiseModel | None:
        if noise is None or name is None:
            return noise
        # Kept on the (cached, never changed) model itself, so it lives exactly as long.
        forms: dict[str, NoiseModel] = noise.__dict__.setdefault("_qrs_approximations", {})
        if name not in forms:
            forms[name] = approximate(noise, name)
        return forms[name]

    def run(self, task: ExecutionTask) -> PrimitiveResult:
        options = task.options
        for index, pub in enumerate(task.pubs):
            if options.coupling_map is not None or options.basis_gates is not None:
                check_circuit(
                    pub.circuit,
                    coupling_map=options.coupling_map,
                    basis_gates=options.basis_gates,
                    label=f"PUB {index}",
                )
        task = _translated(task)
        if self._device_noise_applies(task):
            if isinstance(task, SamplerTask):
                return self._sample_with_device_noise(task)
            return self._estimate_with_device_noise(task)
        density_matrix = _density_matrix_is_cheaper(task)
        noise, noise_label = self._noise(task, density_matrix)
        threads = _thread_options(
            task,
            max(_simulated_qubits(pub) for pub in task.pubs),
            independent=_has_gate_errors(noise) and not density_matrix,
        )
        simulator = AerSimulator(**threads)
        if noise is not None:
            # Aer's automatic method may run a trajectory per shot (sweeps.py).
            simulator = simulator_class(not density_matrix)(
                noise_model=noise,
                method="density_matrix" if density_matrix else "automatic",
                **threads,
            )
        task.log(f"INFO aer {qiskit_aer.__version__}: noise {noise_label}")
        wide = _wide_plans(task, _user_noise_kind(noise), relabel=False)
        batches: dict[int, list[mps_batch.CompiledCircuit]] = {}
        if isinstance(task, SamplerTask):
            for index, plan in wide.items():
                compiled = _mps_batch(
                    task, index, plan, _wide_sampler_pub(task, index, plan), noise
                )
                if compiled is not None:
                    batches[index] = compiled
        for index, plan in wide.items():
            _log_plan(task, index, plan, task.pubs[index].circuit, _shots(task.pubs[index]), noise)
        result: PrimitiveResult
        if isinstance(task, SamplerTask):
            result = self._sample(task, simulator, wide, noise, batches)
            primitive = SAMPLER_PRIMITIVE
        elif noise is not None:
            result = self._estimate_sampled(task, simulator, wide, noise)
            primitive = "Pauli-basis measurements (BackendEstimatorV2)"
        else:
            result = self._estimate_exact(task, simulator, wide)
            primitive = "exact expectation values of the simulated state"
        method = "density_matrix" if noise is not None and density_matrix else "automatic"
        methods = [wide[i].method if i in wide else method for i in range(len(task.pubs))]
        result.metadata["simulator"] = {
            "executor": EXECUTOR_NAME,
            "aer_version": qiskit_aer.__version__,
            "noise": noise_label,
            "primitive": primitive,
            "method": methods[0] if len(set(methods)) == 1 else methods,
            "seed_simulator": options.seed_simulator,
        }
        if isinstance(task, EstimatorTask) and requested_trajectory_expectations(options.raw):
            note = "not used: it applies to a fake device's noise model"
            task.log(f"WARNING options.{EXPECTATIONS_OPTION} {note}")
            result.metadata["simulator"]["trajectory_expectations"] = note
        return result

    def _device_noise_applies(self, task: ExecutionTask) -> bool:
        return task.options.noise_model is None and self.noise_models.has_device_noise(task.backend)

    def _sample_with_device_noise(self, task: SamplerTask) -> PrimitiveResult:
        """Each PUB with the exact method that is cheapest for it (method.py)."""
        seed = task.options.seed_simulator
        approximation = requested(task.options.raw)
        trajectories = requested_trajectories(task.options.raw)
        pub_results = []
        methods = []
        for index, pub in enumerate(task.pubs):
            plan = plan_noisy(
                pub.circuit, pub.parameter_values, pub.shots or 0, noise=_noise_kind(approximation),
                batched=trajectories is None and mps_batch.supports(pub.circuit),
            )  # fmt: skip
            if plan.physical_order:
                mapping = {physical: site for site, physical in enumerate(plan.physical_order)}
                noise = self.noise_models.for_circuits(task.backend, [pub.circuit], mapping=mapping)
                run_pub = SamplerPub(plan.circuit, pub.parameter_values, pub.shots, validate=False)
            elif plan.circuit is not None:  # the stabilizer method's instructions
                noise = self.noise_models.for_circuits(task.backend, [pub.circuit])
                run_pub = SamplerPub(plan.circuit, pub.parameter_values, pub.shots, validate=False)
            else:
                as_channels = plan.method == "density_matrix"
                noise = self.noise_models.for_circuits(
                    task.backend, [pub.circuit], as_channels=as_channels
                )
                run_pub = pub
            noise = self._approximate(noise, approximation)
            batch = None
            if trajectories is None:
                batch = _mps_batch(task, index, plan, run_pub, noise)
            _log_plan(task, index, plan, run_pub.circuit, pub.shots or 0, noise)
            simulator = simulator_class(plan.method != "density_matrix")(
                noise_model=noise, **_plan_options(task, plan, noise)
            )
            pub_seed = _pub_seed(seed, index)
            metadata = _pub_metadata(plan, approximation)
            if batch is not None:
                bits = mps_batch.sample(
                    batch, pub.shots or 0, pub_seed, plan.bond_dimension or 1, _batch_threads(task)
                )
                pub_result = sampler_pub_result(
                    run_pub.circuit, bits, pub.parameter_values.shape,
                    {"shots": pub.shots, "circuit_metadata": pub.circuit.metadata},
                )  # fmt: skip
            elif trajectories is not None and plan.method != "density_matrix":
                bits, info = sample_trajectories(
                    simulator, noise, run_pub.circuit, run_pub.parameter_values,
                    run_pub.shots or 0, trajectories, pub_seed,
                )  # fmt: skip
                metadata.update(info)
                task.log(f"INFO PUB {index}: {info['trajectories']} trajectories")
                pub_result = sampler_pub_result(
                    run_pub.circuit, bits, pub.parameter_values.shape,
                    {"shots": pub.shots, "circuit_metadata": pub.circuit.metadata},
                )  # fmt: skip
            else:
                if trajectories is not None:
                    metadata["trajectories"] = None
                    metadata["trajectories_note"] = (
                        "not used: one exact density-matrix run is cheaper than any trajectory"
                    )
                pub_result = sample(simulator, [run_pub], pub_seed)[0]
            pub_result.metadata["simulator"] = metadata
            pub_results.append(pub_result)
            methods.append(plan.method)
        primitive = SAMPLER_PRIMITIVE
        if trajectories is not None:
            primitive = f"Aer trajectories (options.{TRAJECTORIES_OPTION}={trajectories})"
        return _device_noise_result(
            task, pub_results, methods, approximation, primitive, seed_simulator=seed,
            trajectories=trajectories,
        )  # fmt: skip

    def _estimate_with_device_noise(self, task: EstimatorTask) -> PrimitiveResult:
        """As local testing mode (Pauli-basis measurements, ceil(1/precision^2) shots per
        basis, readout error included), each PUB on the cheapest exact method."""
        seed = _estimator_seed(task)
        approximation = requested(task.options.raw)
        per_trajectory = requested_trajectory_expectations(task.options.raw)
        pub_results = []
        methods = []
        for index, pub in enumerate(task.pubs):
            if is_empty(pub):
                pub_results.append(empty_result(pub))
                methods.append("none (empty sweep)")
                continue
            support = _observable_qubits(pub)
            shots = trajectory_count(pub.precision or 1)
            plan = plan_noisy(
                pub.circuit, pub.parameter_values, shots, also_keep=support,
                noise=_noise_kind(approximation),
                batched=not per_trajectory and mps_batch.supports(pub.circuit),
            )  # fmt: skip
            mapping = None
            if plan.physical_order:
                mapping = {physical: site for site, physical in enumerate(plan.physical_order)}
            noise = self.noise_models.for_circuits(
                task.backend, [pub.circuit], extra_qubits=support, by_instruction=False,
                as_channels=plan.method == "density_matrix", mapping=mapping,
            )  # fmt: skip
            run_pub = _planned_estimator_pub(pub, plan)
            noise = self._approximate(noise, approximation)
            batched = not per_trajectory and _mps_batch(
                task,
                index,
                plan,
                SamplerPub(run_pub.circuit, run_pub.parameter_values, shots),
                noise,
            )
            _log_plan(task, index, plan, run_pub.circuit, shots, noise)
            simulator: AerSimulator
            if batched:
                # The measurement circuits' trajectories run batched (mps_backend.py).
                simulator = BatchedMpsSimulator(
                    bond_dimension=plan.bond_dimension or 1, threads=_batch_threads(task),
                    noise_model=noise, **_plan_options(task, plan, noise),
                )  # fmt: skip
            else:
                simulator = simulator_class(plan.method != "density_matrix")(
                    noise_model=noise, **_plan_options(task, plan, noise)
                )
            metadata = _pub_metadata(plan, approximation)
            if per_trajectory:
                pub_result, runs = estimate_per_trajectory(
                    run_pub, simulator, shots, _pub_seed(seed, index)
                )
                metadata.update(expectations=EXPECTATIONS_NOTE, trajectories=runs)
                task.log(f"INFO PUB {index}: exact expectation values over {runs} trajectories")
            else:
                options: dict[str, Any] = {}
                if seed is not None:
                    options["seed_simulator"] = _pub_seed(seed, index)
                estimator = BackendEstimatorV2(backend=simulator, options=options)
                pub_result = estimator.run([run_pub]).result()[0]
            pub_result.metadata["simulator"] = metadata
            pub_results.append(pub_result)
            methods.append(plan.method)
        primitive = "Pauli-basis measurements (BackendEstimatorV2)"
        if per_trajectory:
            primitive = (
                f"exact expectation values per noisy trajectory (options.{EXPECTATIONS_OPTION}): "
                "no readout error"
            )
        return _device_noise_result(
            task, pub_results, methods, approximation, primitive, seed_estimator=seed
        )

    def _noise(self, task: ExecutionTask, as_channels: bool) -> tuple[NoiseModel | None, str]:
        if task.options.noise_model is not None:
            return user_noise_model(task.options.noise_model), "user noise model"
        device = self._device_noise(task, as_channels)
        if device is None:
            return None, "none (ideal device)"
        return device, f"{task.backend.name} device noise model"

    def _device_noise(self, task: ExecutionTask, as_channels: bool) -> NoiseModel | None:
        circuits = [pub.circuit for pub in task.pubs]
        if isinstance(task, SamplerTask):
            return self.noise_models.for_circuits(task.backend, circuits, as_channels=as_channels)
        # The estimator measures every qubit its observables touch (even idle ones) after
        # basis changes of its own: keep those qubits' errors, and every instruction's.
        measured = set().union(*(_observable_qubits(pub) for pub in task.pubs))
        return self.noise_models.for_circuits(
            task.backend,
            circuits,
            extra_qubits=measured,
            by_instruction=False,
            as_channels=as_channels,
        )

    def _sample(
        self,
        task: SamplerTask,
        simulator: AerSimulator,
        wide: dict[int, Plan],
        noise: NoiseModel | None,
        batches: dict[int, list[mps_batch.CompiledCircuit]],
    ) -> PrimitiveResult:
        """The PUBs a statevector fits run together on ``simulator``; each wider one on its
        own plan's method (``batches``: those whose trajectories run batched), seeded
        apart."""
        seed = task.options.seed_simulator
        narrow = [index for index in range(len(task.pubs)) if index not in wide]
        if not wide:
            return sample(simulator, task.pubs, seed)
        results: list[Any] = [None] * len(task.pubs)
        if narrow:
            ran = sample(simulator, [task.pubs[index] for index in narrow], seed)
            for index, pub_result in zip(narrow, ran, strict=True):
                results[index] = pub_result
        for index, plan in wide.items():
            run_pub = _wide_sampler_pub(task, index, plan)
            if index in batches:
                bits = mps_batch.sample(
                    batches[index], run_pub.shots or 0, _pub_seed(seed, index),
                    plan.bond_dimension or 1, _batch_threads(task),
                )  # fmt: skip
                pub_result = sampler_pub_result(
                    run_pub.circuit, bits, run_pub.parameter_values.shape,
                    {"shots": run_pub.shots, "circuit_metadata": run_pub.circuit.metadata},
                )  # fmt: skip
            else:
                planned = _planned_simulator(task, plan, noise)
                pub_result = sample(planned, [run_pub], _pub_seed(seed, index))[0]
            pub_result.metadata["simulator"] = plan.metadata()
            results[index] = pub_result
        return PrimitiveResult(results, metadata={"version": 2})

    def _estimate_sampled(
        self,
        task: EstimatorTask,
        simulator: AerSimulator,
        wide: dict[int, Plan],
        noise: NoiseModel | None,
    ) -> PrimitiveResult:
        def run(pubs: list[EstimatorPub], backend: AerSimulator, index: int) -> PrimitiveResult:
            options: dict[str, Any] = {}
            seed = _estimator_seed(task)
            if seed is not None:
                options["seed_simulator"] = _pub_seed(seed, index)
            return BackendEstimatorV2(backend=backend, options=options).run(pubs).result()

        return self._estimate_by_plan(task, simulator, wide, noise, run)

    def _estimate_exact(
        self, task: EstimatorTask, simulator: AerSimulator, wide: dict[int, Plan]
    ) -> PrimitiveResult:
        def run(pubs: list[EstimatorPub], backend: AerSimulator, index: int) -> PrimitiveResult:
            run_options: dict[str, Any] = {}
            seed = _estimator_seed(task)
            if seed is not None:
                run_options["seed_simulator"] = _pub_seed(seed, index)
            estimator = AerEstimatorV2.from_backend(backend, options={"run_options": run_options})
            return estimator.run([one_binding(pub) for pub in pubs]).result()

        return self._estimate_by_plan(task, simulator, wide, None, run)

    def _estimate_by_plan(
        self,
        task: EstimatorTask,
        simulator: AerSimulator,
        wide: dict[int, Plan],
        noise: NoiseModel | None,
        run: Callable[[list[EstimatorPub], AerSimulator, int], PrimitiveResult],
    ) -> PrimitiveResult:
        """``run`` on the PUBs a statevector fits together (as before: one seed), and on
        each wider PUB alone with its plan's method and its circuit (renumbered for an MPS,
        observables with it)."""
        narrow = [pub for index, pub in enumerate(task.pubs) if index not in wide]
        result = estimate_nonempty(narrow, lambda pubs: run(pubs, simulator, 0))
        if not wide:
            return result
        ran = iter(result)
        pub_results: list[Any] = []
        for index, pub in enumerate(task.pubs):
            plan = wide.get(index)
            if plan is None:
                pub_results.append(next(ran))
                continue
            backend = _planned_simulator(task, plan, noise)
            planned = _planned_estimator_pub(pub, plan)

            def run_planned(
                pubs: list[EstimatorPub], backend: AerSimulator = backend, index: int = index
            ) -> PrimitiveResult:
                return run(pubs, backend, index)

            pub_result = estimate_nonempty([planned], run_planned)[0]
            pub_result.metadata["simulator"] = plan.metadata()
            pub_results.append(pub_result)
        return PrimitiveResult(pub_results, metadata=result.metadata)


def validate_options(task: ExecutionTask) -> None:
    """The executor's own options, checked at submit (ValueError: the job gets a 400)."""
    if task.options.noise_model is not None:
        # Parsing the user's model is cheap next to simulating with it, and a model Aer cannot
        # read would otherwise fail the job in the worker.
        user_noise_model(task.options.noise_model)
    requested(task.options.raw)
    validate_trajectories(
        task, f"the estimator's precision sets its shots (see options.{EXPECTATIONS_OPTION})"
    )
    if requested_trajectory_expectations(task.options.raw):
        if not isinstance(task, EstimatorTask):
            raise ValueError(f"options.{EXPECTATIONS_OPTION} applies to EstimatorV2 jobs")
        if requested(task.options.raw) == "readout_only":
            raise ValueError(
                f"options.{EXPECTATIONS_OPTION} leaves readout errors out and "
                f"{APPROXIMATION_OPTION}='readout_only' leaves only those: together nothing of "
                "the noise would remain"
            )
        for index, pub in enumerate(task.pubs):
            try:
                unitary_part(pub.circuit)
            except ValueError as error:
                raise ValueError(f"PUB {index}: {error}") from None
    validate_width(task)


def validate_width(task: ExecutionTask) -> None:
    """Refuse at submit a PUB that no method fits on this host (method.py). Only PUBs wider
    than a statevector fits can be refused; their bond-dimension probe stops after
    SUBMIT_PROBE_SECONDS, and the worker plans such a PUB again without that limit."""
    limit = capacity.statevector_qubit_limit()
    if all(_simulated_qubits(pub) <= limit for pub in task.pubs):
        return
    deadline = time.monotonic() + SUBMIT_PROBE_SECONDS
    task = _translated(task)
    if task.options.noise_model is not None:
        model = user_noise_model(task.options.noise_model)
        _wide_plans(task, _user_noise_kind(model), relabel=False, deadline=deadline)
    elif NoiseModelCache.has_device_noise(task.backend):
        _wide_plans(task, _noise_kind(requested(task.options.raw)), deadline=deadline)
    else:
        _wide_plans(task, None, deadline=deadline)


def _noise_kind(approximation: str | None) -> NoiseKind:
    """What the device noise of a job is made of: the opt-in approximations leave Pauli
    errors (``pauli_twirl``) or none (``readout_only``) besides readout errors."""
    return "exact" if approximation is None else "pauli"


def _user_noise_kind(model: NoiseModel | None) -> NoiseKind | None:
    """How a job without device noise plans its wide PUBs: noiseless (None), or with a
    user's model, on the stabilizer method for Clifford circuits when its errors are Pauli."""
    if model is None:
        return None
    return "pauli" if is_pauli_noise(model) else "exact"


def _shots(pub: SamplerPub | EstimatorPub) -> int:
    if isinstance(pub, SamplerPub):
        return pub.shots or 0
    return math.ceil(1 / (pub.precision or 1) ** 2)


def _log_plan(
    task: ExecutionTask,
    index: int,
    plan: Plan,
    circuit: QuantumCircuit,
    shots: int,
    noise: NoiseModel | None,
) -> None:
    """The plan and its reason in the job's log, with the estimated time; a WARNING when it
    will take long."""
    parallel = max(1, task.threads + task.idle_threads) if task.threads > 0 else 1
    seconds = plan.estimated_seconds(circuit, shots, parallel, noisy=_has_gate_errors(noise))
    task.log(f"INFO PUB {index}: {plan.method}: {plan.reason}")
    if seconds > LONG_PLAN_SECONDS:
        task.log(
            f"WARNING PUB {index}: this plan will take long: about {seconds:.0f} s "
            f"(estimated on {parallel} thread{'s' if parallel > 1 else ''})"
        )
    else:
        task.log(f"INFO PUB {index}: estimated {seconds:.1f} s")


def _wide_plans(
    task: ExecutionTask,
    noise: NoiseKind | None,
    relabel: bool = True,
    deadline: float | None = None,
) -> dict[int, Plan]:
    """Plans for the PUBs wider than a statevector fits, by index: noiseless (``noise``
    None) or noisy. A user's noise model names the circuit's own qubits: ``relabel=False``
    keeps their order in an MPS. Raises ValueError naming the PUB no method fits."""
    limit = capacity.statevector_qubit_limit()
    plans: dict[int, Plan] = {}
    for index, pub in enumerate(task.pubs):
        if _simulated_qubits(pub) <= limit:
            continue
        support = _observable_qubits(pub) if isinstance(pub, EstimatorPub) else set()
        try:
            if noise is None:
                plans[index] = plan_noiseless(
                    pub.circuit, pub.parameter_values, support, deadline=deadline
                )
            else:
                plans[index] = plan_noisy(
                    pub.circuit, pub.parameter_values, _shots(pub), support, noise=noise,
                    deadline=deadline, relabel=relabel,
                )  # fmt: skip
        except ValueError as error:
            raise ValueError(f"PUB {index}: {error}") from None
    return plans


def _mps_batch(
    task: ExecutionTask, index: int, plan: Plan, pub: SamplerPub, noise: NoiseModel | None
) -> list[mps_batch.CompiledCircuit] | None:
    """A noisy MPS plan's PUB compiled for batched trajectories (mps_batch.py), which then
    run it; None where Aer's MPS method runs it (the log says why)."""
    if plan.method != "matrix_product_state" or not _has_gate_errors(noise):
        return None
    try:
        compiled = mps_batch.compile_pub(pub.circuit, pub.parameter_values, noise)
    except mps_batch.Unsupported as reason:
        task.log(f"INFO PUB {index}: Aer's MPS trajectories, not batched ones: {reason}")
        return None
    plan.batched = True
    return compiled


def _wide_sampler_pub(task: SamplerTask, index: int, plan: Plan) -> SamplerPub:
    """A wide sampler PUB as its plan runs it (the plan's circuit, where it has one)."""
    pub = task.pubs[index]
    return SamplerPub(plan.circuit or pub.circuit, pub.parameter_values, pub.shots, validate=False)


def _batch_threads(task: ExecutionTask) -> int:
    """Batches of trajectories run at once: the job's cores and the idle ones."""
    return task.threads + task.idle_threads if task.threads > 0 else parallel_states()


def _planned_simulator(task: ExecutionTask, plan: Plan, noise: NoiseModel | None) -> AerSimulator:
    trajectories = _has_gate_errors(noise) and plan.trajectories
    return simulator_class(trajectories)(noise_model=noise, **_plan_options(task, plan, noise))


def _planned_estimator_pub(pub: EstimatorPub, plan: Plan) -> EstimatorPub:
    """The PUB as its plan runs it: an MPS's renumbered circuit with the observables
    renumbered alike, the stabilizer method's translated circuit, else the PUB itself."""
    if plan.circuit is None:
        return pub
    if not plan.physical_order:
        return EstimatorPub(
            plan.circuit, pub.observables, pub.parameter_values, pub.precision, validate=False
        )
    width = pub.circuit.num_qubits
    flat = [
        relabel_observable(observable, plan.physical_order, width)
        for observable in pub.observables.ravel()
    ]
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    observables = ObservablesArray(
        array.reshape(pub.observables.shape), num_qubits=len(plan.physical_order)
    )
    return EstimatorPub(
        plan.circuit, observables, pub.parameter_values, pub.precision, validate=False
    )


def _translated(task: ExecutionTask) -> ExecutionTask:
    """The task with every circuit in a form Aer runs natively (see translation.py)."""
    if isinstance(task, SamplerTask):
        sampler_pubs = tuple(
            SamplerPub(for_aer(pub.circuit), pub.parameter_values, pub.shots, validate=False)
            for pub in task.pubs
        )
        return dataclasses.replace(task, pubs=sampler_pubs)
    estimator_pubs = tuple(
        EstimatorPub(
            for_aer(pub.circuit), pub.observables, pub.parameter_values, pub.precision,
            validate=False,
        )
        for pub in task.pubs
    )  # fmt: skip
    return dataclasses.replace(task, pubs=estimator_pubs)


def _density_matrix_is_cheaper(task: ExecutionTask) -> bool:
    """Aer's own rule for noisy circuits: a density matrix (cost 4**n, exact) beats shots
    trajectories (cost shots * 2**n) when shots > 2**n. Decided here so that the noise model
    can be given in the form that method runs fastest (see noise.py)."""
    if isinstance(task, SamplerTask):
        shots = min(pub.shots or 0 for pub in task.pubs)
    else:
        shots = min(math.ceil(1 / (pub.precision or 1) ** 2) for pub in task.pubs)
    width = max(len(active_qubits(pub.circuit)) for pub in task.pubs)
    return width <= DENSITY_MATRIX_MAX_QUBITS and shots >= 2**width


def _device_noise_result(
    task: ExecutionTask,
    pub_results: list[Any],
    methods: list[str],
    approximation: str | None,
    primitive: str,
    trajectories: int | None = None,
    **seeds: int | None,
) -> PrimitiveResult:
    """The job's result, with what every device-noise run reports about itself."""
    return PrimitiveResult(
        pub_results,
        metadata={
            "version": 2,
            "simulator": {
                "executor": EXECUTOR_NAME,
                "aer_version": qiskit_aer.__version__,
                "noise": _noise_label(task, approximation, trajectories),
                "primitive": primitive,
                "method": methods[0] if len(set(methods)) == 1 else methods,
                **seeds,
            },
        },
    )


def _noise_label(
    task: ExecutionTask, approximation: str | None, trajectories: int | None = None
) -> str:
    label = f"{task.backend.name} device noise model"
    approximations = [approximation] if approximation is not None else []
    if trajectories is not None:
        approximations.append(approximation_label(trajectories))
    if not approximations:
        return f"{label} (exact, full)"
    return f"{label}, APPROXIMATED: {', '.join(approximations)}"


def _pub_metadata(plan: Plan, approximation: str | None) -> dict[str, Any]:
    metadata = plan.metadata()
    metadata["noise_approximation"] = approximation
    if approximation is not None:
        metadata["approximation_bias"] = DOCUMENTED_BIAS[approximation]
    return metadata


def _simulated_qubits(pub: SamplerPub | EstimatorPub) -> int:
    """Qubits a run of ``pub`` simulates: those its circuit acts on, and an estimator's
    observables' (measured, or kept for their expectation values, even when idle)."""
    qubits = set(active_qubits(pub.circuit))
    if isinstance(pub, EstimatorPub):
        qubits |= _observable_qubits(pub)
    return len(qubits)


def _observable_qubits(pub: EstimatorPub) -> set[int]:
    """Qubits on which some observable term is not the identity (labels are little-endian)."""
    width = pub.circuit.num_qubits
    return {
        width - 1 - position
        for observable in pub.observables.ravel()
        for label in observable
        for position, pauli in enumerate(label)
        if pauli != "I"
    }


#: Up to this many active qubits a run gets one thread. Aer parallelises a state's update
#: from 14 qubits (a density matrix of n qubits is a 2n-qubit state), and its planner gives
#: such small circuits a density matrix whenever shots >= 2^n, so a second OpenMP thread only
#: adds its wake-up: a 2-qubit 1024-shot noisy job took 9.7 ms with two threads and 6.7 ms
#: with one after its worker idled for 30 ms (the same job back to back: 5.7 and 6.5 ms).
ONE_THREAD_MAX_QUBITS = 6


def _has_gate_errors(noise: NoiseModel | None) -> bool:
    """Whether runs with ``noise`` are trajectories: without gate errors (readout errors only,
    say) Aer simulates one state and samples it."""
    return noise is not None and bool(noise._local_quantum_errors or noise._default_quantum_errors)


def _plan_options(task: ExecutionTask, plan: Plan, noise: NoiseModel | None) -> dict[str, Any]:
    """Aer options for a planned run: the plan's, and its threads; trajectory options only
    where the run is trajectories."""
    noisy = _has_gate_errors(noise)
    options = plan.simulator_options(noisy)
    return {**options, **_thread_options(task, plan.qubits, plan.trajectories and noisy)}


def _thread_options(task: ExecutionTask, qubits: int, independent: bool) -> dict[str, Any]:
    """The job's own cores, plus the idle ones when the run's work is ``independent`` (a
    trajectory per shot, which Aer spreads over threads shot by shot); one thread for a run on
    ``qubits`` active qubits that cannot use more."""
    if qubits <= ONE_THREAD_MAX_QUBITS:
        return {"max_parallel_threads": 1}
    if task.threads <= 0:
        return {}
    return {"max_parallel_threads": task.threads + (task.idle_threads if independent else 0)}


#: Aer seeds shot i of a run with seed + i, so the seeds of two PUBs must be further apart than
#: any PUB's shots, or PUB 1 would replay most of PUB 0's noise events.
PUB_SEED_STRIDE = 2**24


def _pub_seed(seed: int | None, index: int) -> int | None:
    return None if seed is None else (seed + index * PUB_SEED_STRIDE) % 2**63


def _estimator_seed(task: EstimatorTask) -> int | None:
    if task.options.seed_estimator is not None:
        return task.options.seed_estimator
    return task.options.seed_simulator
