"""The executor contract: tests every executor plugin must pass.

Subclass :class:`ExecutorContract` in your plugin's test-suite and name your executor::

    from qiskit_runtime_server.testing.contract import ExecutorContract

    class TestMyExecutor(ExecutorContract):
        executor = "myexec"

The suite loads plugins from the installed entry points (so it also checks that the plugin is
discoverable), then runs jobs through the server's own validation, hook dispatch and wire
encoding. An executor that reports itself unavailable on this host is skipped with its reason.
Statistical checks use fixed seeds and bounds of at least five standard deviations.

Results must have the shapes Qiskit's reference primitives give (``StatevectorSampler``,
``StatevectorEstimator``) for every PUB, degenerate ones included: a circuit without parameters
with parameter values of shape ``(3, 0)`` is three independent sets of shots, an empty sweep an
empty result. Results reach the user in the form IBM returns them (the server brings them to
it, see ``qiskit_runtime_server.results``), which the suite checks field by field and against
IBM's published schemas (``ibm_quantum_schemas``).
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives import (
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
    StatevectorEstimator,
    StatevectorSampler,
)
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import RuntimeEncoder
from qiskit_ibm_runtime.execution_span import ExecutionSpans

from .. import hookimpl
from ..executor import EXECUTOR_NAME_PATTERN
from ..plugins import PluginHost
from ..tasks import DEFAULT_SHOTS, ExecutionTask
from .jobs import run_job, run_quantum_program


def bell(measure: bool = True) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def twirled_bell() -> tuple[QuantumCircuit, Any]:
    """A Bell pair with a twirled CX box and a twirled measurement box, built by samplomatic:
    the template circuit and the samplex of a QuantumProgram's samplex item (register ``c``,
    samplex output ``measurement_flips.c``)."""
    from samplomatic import Twirl, build

    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    with circuit.box([Twirl()]):
        circuit.cx(0, 1)
    with circuit.box([Twirl()]):
        circuit.measure([0, 1], [0, 1])
    template, samplex = build(circuit)
    return template, samplex


def within_sigmas(observed: float, expected_p: float, shots: int, sigmas: float = 5) -> bool:
    """Whether a count fraction is within ``sigmas`` binomial standard deviations."""
    std = math.sqrt(max(expected_p * (1 - expected_p), 1e-12) / shots)
    return abs(observed - expected_p) <= sigmas * std + 1e-9


def one_parameter() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.ry(Parameter("a"), 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


#: Degenerate PUBs: (circuit, parameter values' shape). A circuit without parameters swept
#: k times (shape (k, 0)), sweeps of sweeps, and empty sweeps with and without parameters.
DEGENERATE_SWEEPS = [
    pytest.param(bell, (3, 0), id="3-sets-no-parameters"),
    pytest.param(bell, (2, 3, 0), id="2x3-sets-no-parameters"),
    pytest.param(bell, (1, 0), id="1-set-no-parameters"),
    pytest.param(bell, (0, 0), id="empty-no-parameters"),
    pytest.param(bell, (2, 0, 0), id="2x0-no-parameters"),
    pytest.param(one_parameter, (0, 1), id="empty-one-parameter"),
    pytest.param(one_parameter, (2, 0, 1), id="2x0-one-parameter"),
]


def check_ibm_schema(result: PrimitiveResult, program: str) -> None:
    """Validate ``result``'s wire form (``RuntimeEncoder``, as the server sends it) against
    IBM's published result schema of ``program`` (``"sampler"`` or ``"estimator"``): pydantic
    raises ValidationError where it differs. Skips the test where ``ibm_quantum_schemas`` (a
    dependency of qiskit-ibm-runtime) has no such schema."""
    schema = pytest.importorskip(f"ibm_quantum_schemas.{program}.version_0_1")
    wire = json.loads(json.dumps(result, cls=RuntimeEncoder))
    _add_field_types(wire)
    schema.PrimitiveResultWrapperModel.model_validate(wire)


def _add_field_types(wire: Any) -> None:
    """IBM's schemas require ``field_types`` in every DataBin; the client's RuntimeEncoder (which
    the server uses) writes none and its decoder never reads them. Added here, from the fields'
    own wire types, so that everything else can be validated against the schemas."""
    if isinstance(wire, dict):
        if wire.get("__type__") == "DataBin":
            value = wire["__value__"]
            fields = [value["fields"][name] for name in value["field_names"]]
            value["field_types"] = [
                f["__type__"] if isinstance(f, dict) else type(f).__name__ for f in fields
            ]
        for item in wire.values():
            _add_field_types(item)
    elif isinstance(wire, list):
        for item in wire:
            _add_field_types(item)


class _Recorder:
    """A hook wrapper from another plugin: it must see every execution."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def qiskit_runtime_execute(self, task: ExecutionTask) -> Any:
        self.seen.append(task.job_id)
        return (yield)


class ExecutorContract:
    """Base class of the contract suite; set ``executor`` in the subclass."""

    #: The executor's name, as in ``ExecutorInfo.name``.
    executor: ClassVar[str]
    #: A noiseless device description and a small noisy one from the core's catalogue.
    ideal_device: ClassVar[str] = "ideal_simulator"
    noisy_device: ClassVar[str] = "fake_manila"
    #: A large device whose ISA circuits have many idle qubits.
    large_device: ClassVar[str] = "fake_kyiv"

    @pytest.fixture(scope="class")
    @classmethod
    def recorder(cls) -> _Recorder:
        return _Recorder()

    @pytest.fixture(scope="class")
    @classmethod
    def plugins(cls, recorder: _Recorder) -> PluginHost:
        host = PluginHost.load(extra_plugins=[("contract-recorder", recorder)])
        registered = host.executors.get(cls.executor)
        if registered is None:
            failures = [f"{r.label()}: {r.error}" for r in host.records if r.error]
            pytest.fail(
                f"executor {cls.executor!r} is not registered by any installed plugin "
                f"(failed plugins: {failures or 'none'})"
            )
        availability = registered.info.availability
        if not availability.available:
            pytest.skip(f"executor {cls.executor!r} is unavailable here: {availability.reason}")
        return host

    def backend(self, device: str) -> str:
        return f"{device}@{self.executor}"

    def run(
        self,
        plugins: PluginHost,
        program: str,
        device: str,
        pubs: list[Any],
        options: dict[str, Any] | None = None,
    ) -> PrimitiveResult:
        return run_job(plugins, program, self.backend(device), pubs, options)

    # -- description ---------------------------------------------------------------------------

    def test_is_discovered_through_an_entry_point(self, plugins: PluginHost) -> None:
        record = plugins.executors[self.executor].plugin
        assert not record.builtin
        assert record.distribution, "the plugin must come from an installed distribution"
        assert record.status == "loaded"

    def test_describes_itself(self, plugins: PluginHost) -> None:
        info = plugins.executors[self.executor].info
        assert EXECUTOR_NAME_PATTERN.match(info.name)
        assert info.version
        assert info.programs <= {"sampler", "estimator"}
        assert info.max_qubits >= 2
        assert info.device in ("CPU", "GPU")

    def test_every_device_is_published_for_the_executor(self, plugins: PluginHost) -> None:
        from ..catalogue import Catalogue

        names = {backend.name for backend in Catalogue(plugins)}
        for device in plugins.descriptions:
            assert f"{device}@{self.executor}" in names

    # -- sampler -------------------------------------------------------------------------------

    def test_sampler_bell_counts(self, plugins: PluginHost) -> None:
        result = self.run(
            plugins, "sampler", self.ideal_device, [(bell(), None, 4000)],
            {"simulator": {"seed_simulator": 11}},
        )  # fmt: skip
        counts = result[0].data.meas.get_counts()
        assert set(counts) <= {"00", "11"}
        assert sum(counts.values()) == 4000
        assert within_sigmas(counts.get("00", 0) / 4000, 0.5, 4000)

    def test_sampler_same_seed_same_counts(self, plugins: PluginHost) -> None:
        circuit = QuantumCircuit(3)
        circuit.h(range(3))
        circuit.measure_all()

        def counts(seed: int) -> dict[str, int]:
            options = {"simulator": {"seed_simulator": seed}}
            result = self.run(
                plugins, "sampler", self.ideal_device, [(circuit, None, 500)], options
            )
            data: dict[str, int] = result[0].data.meas.get_counts()
            return data

        assert counts(5) == counts(5)
        assert counts(5) != counts(6)

    def test_sampler_shots(self, plugins: PluginHost) -> None:
        circuit = bell()
        result = self.run(
            plugins, "sampler", self.ideal_device, [(circuit, None, 123), (circuit,)],
            {"default_shots": 321},
        )  # fmt: skip
        assert result[0].data.meas.num_shots == 123
        assert result[1].data.meas.num_shots == 321
        result = self.run(plugins, "sampler", self.ideal_device, [(circuit,)])
        assert result[0].data.meas.num_shots == DEFAULT_SHOTS

    def test_sampler_classical_registers_become_fields(self, plugins: PluginHost) -> None:
        qreg = QuantumRegister(3)
        alpha, beta = ClassicalRegister(1, "alpha"), ClassicalRegister(2, "beta")
        circuit = QuantumCircuit(qreg, alpha, beta)
        circuit.x(0)
        circuit.x(2)
        circuit.measure(0, alpha[0])
        circuit.measure([1, 2], beta)
        result = self.run(plugins, "sampler", self.ideal_device, [(circuit, None, 50)])
        data = result[0].data
        assert data.alpha.num_bits == 1
        assert data.beta.num_bits == 2
        assert data.alpha.get_counts() == {"1": 50}
        assert data.beta.get_counts() == {"10": 50}

    def test_sampler_parameter_sweep_matches_exact_probabilities(self, plugins: PluginHost) -> None:
        # Parameters bind in sorted-name order: values[..., 0] is "a", values[..., 1] is "b".
        a, b = Parameter("a"), Parameter("b")
        circuit = QuantumCircuit(2)
        circuit.ry(a, 0)
        circuit.ry(b, 1)
        circuit.measure_all()
        values = np.array(
            [[[0.3, 2.0], [1.1, 0.0]], [[np.pi, 0.7], [2.5, np.pi / 2]], [[0.0, 0.0], [1.9, 3.0]]]
        )
        shots = 2000
        result = self.run(
            plugins, "sampler", self.ideal_device, [(circuit, values, shots)],
            {"simulator": {"seed_simulator": 3}},
        )  # fmt: skip
        bits = result[0].data.meas
        assert bits.shape == (3, 2)
        for index in np.ndindex(3, 2):
            t, p = values[index]
            counts = bits[index].get_counts()
            p_q0 = math.sin(t / 2) ** 2  # probability that qubit 0 reads 1
            p_q1 = math.sin(p / 2) ** 2
            observed_q0 = sum(n for key, n in counts.items() if key[-1] == "1") / shots
            observed_q1 = sum(n for key, n in counts.items() if key[-2] == "1") / shots
            assert within_sigmas(observed_q0, p_q0, shots), (index, observed_q0, p_q0)
            assert within_sigmas(observed_q1, p_q1, shots), (index, observed_q1, p_q1)

    def test_sampler_isa_circuit_on_a_large_device(self, plugins: PluginHost) -> None:
        device = plugins.descriptions[self.large_device].backend()
        isa = generate_preset_pass_manager(1, backend=device, seed_transpiler=1).run(bell())
        assert isa.num_qubits == device.num_qubits
        result = self.run(
            plugins, "sampler", self.large_device, [(isa, None, 1000)],
            {"simulator": {"seed_simulator": 1}},
        )  # fmt: skip
        counts = result[0].data.meas.get_counts()
        good = counts.get("00", 0) + counts.get("11", 0)
        assert good / 1000 > 0.8, counts

    def test_sampler_noise_matches_the_declaration(self, plugins: PluginHost) -> None:
        info = plugins.executors[self.executor].info
        device = plugins.descriptions[self.noisy_device].backend()
        isa = generate_preset_pass_manager(1, backend=device, seed_transpiler=1).run(bell())
        result = self.run(
            plugins, "sampler", self.noisy_device, [(isa, None, 4000)],
            {"simulator": {"seed_simulator": 2}},
        )  # fmt: skip
        counts = result[0].data.meas.get_counts()
        wrong = counts.get("01", 0) + counts.get("10", 0)
        if info.simulates_noise:
            assert wrong > 0, f"device noise must be visible, got {counts}"
        else:
            assert wrong == 0, f"a noiseless executor produced errors: {counts}"

    @pytest.mark.parametrize(("make_circuit", "values_shape"), DEGENERATE_SWEEPS)
    def test_sampler_degenerate_sweeps_have_the_reference_shapes(
        self, plugins: PluginHost, make_circuit: Any, values_shape: tuple[int, ...]
    ) -> None:
        pub = (make_circuit(), np.zeros(values_shape), 20)
        expected = StatevectorSampler(seed=1).run([pub]).result()[0].data.meas
        bits = self.run(plugins, "sampler", self.ideal_device, [pub])[0].data.meas
        assert (bits.shape, bits.num_shots, bits.num_bits) == (expected.shape, 20, 2)
        assert bits.array.shape == expected.array.shape

    def test_sampler_sets_of_a_circuit_without_parameters_are_independent(
        self, plugins: PluginHost
    ) -> None:
        # SamplerV2.run([(circuit, [(), (), ()])]): three sets of shots of one circuit, each its
        # own, as three runs would give; uniform over 8 outcomes so that copies would show.
        circuit = QuantumCircuit(3)
        circuit.h(range(3))
        circuit.measure_all()
        shots = 2000
        result = self.run(
            plugins, "sampler", self.ideal_device, [(circuit, [(), (), ()], shots)],
            {"simulator": {"seed_simulator": 8}},
        )  # fmt: skip
        bits = result[0].data.meas
        assert bits.shape == (3,)
        assert bits.num_shots == shots
        outcomes = bits.array[..., 0]  # (3, shots): 3 bits per shot fit one byte
        for index in range(3):
            for value in range(8):
                fraction = float(np.mean(outcomes[index] == value))
                assert within_sigmas(fraction, 1 / 8, shots), (index, value, fraction)
        for first, second in ((0, 1), (0, 2), (1, 2)):
            # Independent sets agree on a shot with probability 1/8; copies always do. Equal
            # counts of 2000 uniform shots over 8 outcomes have probability about 1e-11.
            agreement = float(np.mean(outcomes[first] == outcomes[second]))
            assert within_sigmas(agreement, 1 / 8, shots), (first, second, agreement)
            assert bits[first].get_counts() != bits[second].get_counts()

    def test_sampler_sets_of_an_isa_circuit_on_the_noisy_device(self, plugins: PluginHost) -> None:
        info = plugins.executors[self.executor].info
        device = plugins.descriptions[self.noisy_device].backend()
        isa = generate_preset_pass_manager(1, backend=device, seed_transpiler=1).run(bell())
        shots = 1000
        result = self.run(
            plugins, "sampler", self.noisy_device, [(isa, [(), (), ()], shots)],
            {"simulator": {"seed_simulator": 4}},
        )  # fmt: skip
        bits = result[0].data.meas
        assert bits.shape == (3,)
        assert bits.num_shots == shots
        for index in range(3):
            counts = bits[index].get_counts()
            good = counts.get("00", 0) + counts.get("11", 0)
            assert good / shots > 0.8, counts
            if not info.simulates_noise:
                assert good == shots, counts
        assert not np.array_equal(bits.array[0], bits.array[1])

    # -- estimator -----------------------------------------------------------------------------

    def test_estimator_bell_expectation_values(self, plugins: PluginHost) -> None:
        observables = SparsePauliOp(["ZZ", "XX", "YY", "ZI"])
        precision = 0.01
        result = self.run(
            plugins, "estimator", self.ideal_device,
            [(bell(False), [[o] for o in observables], None, precision)],
            {"seed_estimator": 4},
        )  # fmt: skip
        evs, stds = result[0].data.evs, result[0].data.stds
        assert evs.shape == (4, 1)
        exact = np.array([[1.0], [1.0], [-1.0], [0.0]])
        assert np.all(np.abs(evs - exact) <= 5 * precision), evs
        assert np.all(stds <= precision * 1.5)

    def test_estimator_broadcasting_and_sweep(self, plugins: PluginHost) -> None:
        theta = Parameter("theta")
        circuit = QuantumCircuit(1)
        circuit.ry(theta, 0)
        angles = np.linspace(0, np.pi, 5)
        observables = [[SparsePauliOp("Z")], [SparsePauliOp("X")]]  # shape (2, 1)
        precision = 0.005
        result = self.run(
            plugins, "estimator", self.ideal_device,
            [(circuit, observables, angles.reshape(5, 1), precision)],
            {"seed_estimator": 9},
        )  # fmt: skip
        evs = result[0].data.evs
        assert evs.shape == (2, 5)
        expected = np.array([np.cos(angles), np.sin(angles)])
        assert np.all(np.abs(evs - expected) <= 5 * precision), evs

    def test_estimator_matches_statevector_on_a_random_circuit(self, plugins: PluginHost) -> None:
        from qiskit.circuit.random import random_circuit

        circuit = random_circuit(4, 5, seed=7)
        observable = SparsePauliOp(["ZIZI", "XXII", "IYZX"], [0.5, -1.0, 0.25])
        exact = Statevector(circuit).expectation_value(observable).real
        precision = 0.005
        result = self.run(
            plugins, "estimator", self.ideal_device, [(circuit, observable, None, precision)],
            {"seed_estimator": 1},
        )  # fmt: skip
        assert abs(float(result[0].data.evs) - exact) <= 5 * precision

    def test_estimator_isa_circuit_on_a_large_device(self, plugins: PluginHost) -> None:
        device = plugins.descriptions[self.large_device].backend()
        isa = generate_preset_pass_manager(1, backend=device, seed_transpiler=1).run(bell(False))
        observable = SparsePauliOp("ZZ").apply_layout(isa.layout)
        precision = 0.02
        result = self.run(
            plugins, "estimator", self.large_device, [(isa, observable, None, precision)],
            {"seed_estimator": 2},
        )  # fmt: skip
        assert float(result[0].data.evs) > 0.8

    @pytest.mark.parametrize(("make_circuit", "values_shape"), DEGENERATE_SWEEPS)
    def test_estimator_degenerate_sweeps_have_the_reference_shapes(
        self, plugins: PluginHost, make_circuit: Any, values_shape: tuple[int, ...]
    ) -> None:
        circuit = make_circuit().remove_final_measurements(inplace=False)
        observables = [[SparsePauliOp("ZZ")], [SparsePauliOp("XX")]]  # shape (2, 1)
        if len(values_shape) > 2:
            observables = SparsePauliOp("ZZ")  # shape ()
        pub = (circuit, observables, np.zeros(values_shape), 0.05)
        expected = StatevectorEstimator(seed=1).run([pub]).result()[0].data
        data = self.run(plugins, "estimator", self.ideal_device, [pub])[0].data
        for name in ("evs", "stds", "ensemble_standard_error"):
            assert np.shape(getattr(data, name)) == expected.evs.shape, name

    def test_estimator_sets_of_a_circuit_without_parameters_broadcast(
        self, plugins: PluginHost
    ) -> None:
        observables = [[SparsePauliOp("ZZ")], [SparsePauliOp("XX")], [SparsePauliOp("ZI")]]
        precision = 0.02
        result = self.run(
            plugins, "estimator", self.ideal_device,
            [(bell(False), observables, np.zeros((6, 0)), precision)],
            {"seed_estimator": 5},
        )  # fmt: skip
        evs, stds = result[0].data.evs, result[0].data.stds
        assert evs.shape == stds.shape == (3, 6)
        exact = np.broadcast_to(np.array([[1.0], [1.0], [0.0]]), (3, 6))
        assert np.all(np.abs(evs - exact) <= 5 * precision), evs
        for row in range(3):
            # Six estimates with a statistical error are six draws, not one copied six times.
            if np.all(stds[row] > 0):
                assert len(set(evs[row].tolist())) > 1, evs[row]

    # -- the executor program (QuantumPrograms): served by every executor that samples --------

    def test_quantum_program_circuit_items_match_exact_probabilities(
        self, plugins: PluginHost
    ) -> None:
        from qiskit_ibm_runtime.quantum_program import QuantumProgram

        circuit = QuantumCircuit(QuantumRegister(2), ClassicalRegister(1, "a"))
        circuit.add_register(ClassicalRegister(1, "b"))
        circuit.ry(Parameter("t"), 0)
        circuit.cx(0, 1)
        circuit.measure(0, 0)
        circuit.measure(1, 1)
        angles = np.array([[0.0], [1.0], [np.pi / 2], [2.5]])
        shots = 2000
        program = QuantumProgram(shots=shots)
        program.append_circuit_item(circuit, circuit_arguments=angles)
        program.append_circuit_item(bell())  # no parameters: one set of shots
        program.append_circuit_item(bell(), circuit_arguments=np.zeros((3, 0)))
        result = run_quantum_program(plugins, self.backend(self.ideal_device), program)
        # One boolean array per classical register, of shape (*item shape, shots, size).
        assert result[0]["a"].shape == result[0]["b"].shape == (4, shots, 1)
        assert result[0]["a"].dtype == np.bool_
        assert np.array_equal(result[0]["a"], result[0]["b"])  # the CX copies qubit 0
        for index, (angle,) in enumerate(angles):
            observed = float(result[0]["a"][index].mean())
            assert within_sigmas(observed, math.sin(angle / 2) ** 2, shots), (index, observed)
        assert result[1]["meas"].shape == (shots, 2)
        assert result[2]["meas"].shape == (3, shots, 2)
        for bits in (result[1]["meas"], *result[2]["meas"]):
            assert np.array_equal(bits[:, 0], bits[:, 1])
            assert within_sigmas(float(bits[:, 0].mean()), 0.5, shots)
        # Three sets of a circuit without parameters are three independent sets of shots.
        assert len({result[2]["meas"][k].tobytes() for k in range(3)}) == 3

    def test_quantum_program_twirled_samplex_item_keeps_the_distribution(
        self, plugins: PluginHost
    ) -> None:
        from qiskit_ibm_runtime.quantum_program import QuantumProgram

        template, samplex = twirled_bell()
        randomizations, shots = 16, 250
        program = QuantumProgram(shots=shots)
        program.append_samplex_item(template, samplex=samplex, shape=(randomizations,))
        result = run_quantum_program(plugins, self.backend(self.ideal_device), program)
        bits, flips = result[0]["c"], result[0]["measurement_flips.c"]
        assert bits.shape == (randomizations, shots, 2)
        assert flips.shape == (randomizations, 1, 2)
        # Randomized measurement flips show in the raw bits; undone, the Bell pair is back.
        assert 0 < flips.mean() < 1
        corrected = (bits ^ flips).reshape(-1, 2)
        assert np.array_equal(corrected[:, 0], corrected[:, 1])
        total = randomizations * shots
        assert within_sigmas(float(corrected[:, 0].mean()), 0.5, total)

    # -- the form IBM returns ------------------------------------------------------------------

    def test_sampler_results_have_ibms_form(self, plugins: PluginHost) -> None:
        circuit = bell()
        circuit.metadata = {"experiment": "form"}
        pubs = [(circuit, None, 50), (circuit, np.zeros((2, 0)), 20), (circuit, np.zeros((0, 0)))]
        result = self.run(plugins, "sampler", self.ideal_device, pubs, {"default_shots": 30})
        assert result.metadata["version"] == 2
        spans = result.metadata["execution"]["execution_spans"]
        assert isinstance(spans, ExecutionSpans)
        for index, (shape, shots) in enumerate([((), 50), ((2,), 20), ((0,), 30)]):
            pub_result = result[index]
            assert type(pub_result) is SamplerPubResult
            assert pub_result.metadata["circuit_metadata"] == {"experiment": "form"}
            assert pub_result.metadata["shots"] == shots
            assert pub_result.data.meas.shape == shape
            # Every datum was taken within some span, which says when.
            covered = np.zeros((*shape, shots), dtype=bool)
            for span in spans:
                assert span.start <= span.stop
                if index in span.pub_idxs:
                    covered |= span.mask(index)
            assert covered.all()

    def test_estimator_results_have_ibms_form(self, plugins: PluginHost) -> None:
        circuit = bell(False)
        circuit.metadata = {"experiment": "form"}
        pubs = [
            (circuit, SparsePauliOp("ZZ"), None, 0.05),  # one observable: 0-d arrays
            (circuit, [[SparsePauliOp("ZZ")], [SparsePauliOp("XX")]], np.zeros((3, 0)), 0.1),
        ]
        result = self.run(plugins, "estimator", self.ideal_device, pubs)
        for index, (shape, precision) in enumerate([((), 0.05), ((2, 3), 0.1)]):
            pub_result = result[index]
            assert type(pub_result) is PubResult
            assert list(pub_result.data)[:3] == ["evs", "stds", "ensemble_standard_error"]
            for name in ("evs", "stds", "ensemble_standard_error"):
                value = getattr(pub_result.data, name)
                assert isinstance(value, np.ndarray), (name, type(value))
                assert value.shape == shape
                assert value.dtype == np.float64
            metadata = pub_result.metadata
            assert metadata["target_precision"] == precision
            assert metadata["circuit_metadata"] == {"experiment": "form"}
            assert "shots" in metadata
            assert isinstance(metadata["resilience"], dict)
        assert result.metadata["version"] == 2
        for key in ("dynamical_decoupling", "twirling", "resilience"):
            assert isinstance(result.metadata[key], dict), key

    def test_results_validate_against_ibms_schemas(self, plugins: PluginHost) -> None:
        circuit = bell()
        sampled = self.run(
            plugins, "sampler", self.ideal_device, [(circuit, None, 10), (circuit, [(), ()], 10)]
        )
        check_ibm_schema(sampled, "sampler")
        estimated = self.run(
            plugins, "estimator", self.ideal_device,
            [(bell(False), SparsePauliOp("ZZ"), None, 0.1),
             (bell(False), [SparsePauliOp("XX"), SparsePauliOp("ZI")], np.zeros((2, 0)), 0.1)],
        )  # fmt: skip
        check_ibm_schema(estimated, "estimator")

    # -- plugin machinery ----------------------------------------------------------------------

    def test_hook_wrappers_of_other_plugins_see_the_execution(
        self, plugins: PluginHost, recorder: _Recorder
    ) -> None:
        before = len(recorder.seen)
        self.run(plugins, "sampler", self.ideal_device, [(bell(), None, 10)])
        assert len(recorder.seen) == before + 1
