"""One test per hook (test_hookspecs.py checks that none is missing)."""

from __future__ import annotations

import dataclasses
import gc
import json
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from ibm_quantum_schemas.common import F64TensorModel
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.primitives import PrimitiveResult, StatevectorSampler
from qiskit.quantum_info import Kraus, Pauli
from qiskit_ibm_runtime.noise_learner_v3.params_converters import (
    NOISE_LEARNER_V3_PARAMS_CONVERTERS,
)
from qiskit_ibm_runtime.options_models import NoiseLearnerV3Options
from qiskit_runtime_server import (
    BackendDescription,
    DocumentDescription,
    ExecutionTask,
    ExecutorInfo,
    hookimpl,
)
from qiskit_runtime_server.builtin.ideal_simulator import ideal_configuration
from qiskit_runtime_server.catalogue import Catalogue
from qiskit_runtime_server.circuits import compact_sampler_pub
from qiskit_runtime_server.device_noise import DeviceNoise, GateRef, NoiseQuery
from qiskit_runtime_server.errors import ExecutorContractError
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.testing import run_job
from samplomatic.annotations import Twirl


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def info(name: str) -> ExecutorInfo:
    return ExecutorInfo(
        name=name, version="1", device="CPU", programs=frozenset({"sampler"}),
        simulates_noise=False, max_qubits=8,
    )  # fmt: skip


class TwoExecutors:
    """One plugin offering two executors, dispatching on ``task.executor``."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [info("left"), info("right")]

    @hookimpl
    def qiskit_runtime_execute(self, task: ExecutionTask) -> PrimitiveResult:
        self.calls.append(task.executor)
        pubs = [compact_sampler_pub(pub) for pub in task.pubs]  # type: ignore[arg-type]
        return StatevectorSampler(seed=1).run(pubs).result()


def test_hook_qiskit_runtime_executors() -> None:
    host = PluginHost.load(extra_plugins=[("two", TwoExecutors())])
    assert {"left", "right"} <= set(host.executors)
    assert host.executors["left"].plugin.name == "two"
    names = {backend.name for backend in Catalogue(host)}
    assert {"fake_manila@left", "fake_manila@right", "ideal_simulator@right"} <= names


class DeviceMemory:
    """A plugin whose executor 'left' reports its device's memory, and 'right' a failure."""

    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [info("left"), info("right")]

    @hookimpl
    def qiskit_runtime_device_memory(self, executor: str) -> dict[str, Any] | None:
        if executor == "right":
            raise RuntimeError("NVML is not loaded")
        return {"used_bytes": 1, "free_bytes": 2, "total_bytes": 3, "devices": [{"index": 0}]}


def test_hook_qiskit_runtime_device_memory() -> None:
    """Each executor's report reaches /-/plugins' summary; a failing report is that
    executor's error, not the summary's; another plugin's executors (aer) report nothing."""
    host = PluginHost.load(extra_plugins=[("memory", DeviceMemory())])
    reported = {ex["name"]: ex["device_memory"] for ex in host.summary()["executors"]}
    assert reported["left"] == {
        "used_bytes": 1, "free_bytes": 2, "total_bytes": 3, "devices": [{"index": 0}],
    }  # fmt: skip
    assert reported["right"] == {"error": "RuntimeError: NVML is not loaded"}
    assert reported["aer"] is None


class ToyDevice:
    @hookimpl
    def qiskit_runtime_backend_descriptions(self) -> Sequence[BackendDescription]:
        configuration = {**ideal_configuration(3), "simulator": False, "coupling_map": [[0, 1]]}
        return [DocumentDescription("toy_device", configuration)]


def test_hook_qiskit_runtime_backend_descriptions() -> None:
    host = PluginHost.load(extra_plugins=[("toy", ToyDevice())])
    backend = Catalogue(host).get("toy_device@aer")
    assert backend is not None
    assert backend.configuration()["backend_name"] == "toy_device@aer"
    assert backend.description.backend().num_qubits == 3
    result = run_job(host, "sampler", "toy_device@aer", [(bell(), None, 100)])
    assert set(result[0].data.meas.get_counts()) <= {"00", "11"}


class Wrapper:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl(wrapper=True)
    def qiskit_runtime_execute(self, task: ExecutionTask) -> Any:
        result = yield
        self.seen.append((task.executor, type(result).__name__))
        return result


def test_hook_qiskit_runtime_execute() -> None:
    two, wrapper = TwoExecutors(), Wrapper()
    host = PluginHost.load(extra_plugins=[("two", two), ("wrapper", wrapper)])
    run_job(host, "sampler", "ideal_simulator@right", [bell()])
    run_job(host, "sampler", "ideal_simulator@aer", [bell()])
    run_job(host, "sampler", "ideal_simulator@left", [bell()])
    # Only the target plugin answered; the wrapper saw every execution, whoever ran it.
    assert two.calls == ["right", "left"]
    assert wrapper.seen == [
        ("right", "PrimitiveResult"),
        ("aer", "PrimitiveResult"),
        ("left", "PrimitiveResult"),
    ]


class ReturnsNothing:
    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [info("nothing")]

    @hookimpl
    def qiskit_runtime_execute(self, task: ExecutionTask) -> None:
        return None


class ReturnsCounts:
    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [info("counts")]

    @hookimpl
    def qiskit_runtime_execute(self, task: ExecutionTask) -> dict[str, int]:
        return {"00": 1}


@pytest.mark.parametrize(
    ("plugin", "executor", "message"),
    [
        (ReturnsNothing(), "nothing", "returned no result"),
        (ReturnsCounts(), "counts", "returned dict, not a PrimitiveResult"),
    ],
)
def test_execute_results_are_checked(plugin: object, executor: str, message: str) -> None:
    host = PluginHost.load(extra_plugins=[("bad", plugin)])
    with pytest.raises(ExecutorContractError, match=message):
        run_job(host, "sampler", f"ideal_simulator@{executor}", [bell()])


class IgnoresSweeps:
    """Runs each PUB's circuit once, whatever its parameter values."""

    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [info("blind")]

    @hookimpl
    def qiskit_runtime_execute(self, task: ExecutionTask) -> PrimitiveResult:
        pubs = [(pub.circuit, None, pub.shots) for pub in task.pubs]  # type: ignore[union-attr]
        return StatevectorSampler(seed=1).run(pubs).result()


def test_execute_results_must_fit_their_pubs() -> None:
    host = PluginHost.load(extra_plugins=[("bad", IgnoresSweeps())])
    run_job(host, "sampler", "ideal_simulator@blind", [(bell(), None, 10)])
    with pytest.raises(
        ExecutorContractError,
        match=r"executor 'blind' of plugin 'bad': PUB 0: field 'meas' holds 10 shots of shape "
        r"\(\); the PUB asks for 10 shots of shape \(3,\)",
    ):
        run_job(host, "sampler", "ideal_simulator@blind", [(bell(), [(), (), ()], 10)])


class Picky(TwoExecutors):
    """Refuses jobs of its executor "left" asking for an unknown ``experimental.mode``."""

    @hookimpl
    def qiskit_runtime_validate(self, task: ExecutionTask) -> None:
        mode = task.options.raw.get("experimental", {}).get("mode", "fast")
        if task.executor == "left" and mode not in ("fast", "exact"):
            raise ValueError(f"options.experimental.mode must be fast or exact, got {mode!r}")


def test_hook_qiskit_runtime_validate() -> None:
    from qiskit_runtime_server.errors import InvalidRequest

    host = PluginHost.load(extra_plugins=[("picky", Picky())])
    bad = {"experimental": {"mode": "magic"}}
    with pytest.raises(InvalidRequest, match="'left' executor refuses this job: options"):
        run_job(host, "sampler", "ideal_simulator@left", [(bell(), None, 10)], bad)
    # An accepted value; the plugin dispatches on task.executor, so "right" accepts anything.
    run_job(
        host,
        "sampler",
        "ideal_simulator@left",
        [(bell(), None, 10)],
        {"experimental": {"mode": "exact"}},
    )
    run_job(host, "sampler", "ideal_simulator@right", [(bell(), None, 10)], bad)


class DepolarizingDevice(TwoExecutors):
    """Executors "left" and "right" that simulate noise; the plugin says what it is: a
    two-qubit depolarizing error of probability 0.02 after every two-qubit gate, nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[Any] = []

    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [dataclasses.replace(info(name), simulates_noise=True) for name in ("left", "right")]

    @hookimpl
    def qiskit_runtime_device_noise(self, query: NoiseQuery) -> DeviceNoise:
        self.queries.append(query)
        errors = {
            gate: depolarizing(0.02) if len(gate.qubits) == 2 else None for gate in query.gates
        }
        return DeviceNoise(gate_errors=errors, source="a toy model")


class QuietAboutNoise(TwoExecutors):
    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [dataclasses.replace(info("quiet"), simulates_noise=True)]


def depolarizing(p: float) -> Kraus:
    identity = (1 - 15 * p / 16) ** 0.5 * np.eye(4)
    others = [
        (p / 16) ** 0.5 * Pauli(a + b).to_matrix() for a in "IXYZ" for b in "IXYZ" if a + b != "II"
    ]
    return Kraus([identity, *others])


def cx_box_params(num_qubits: int) -> dict[str, Any]:
    """NoiseLearnerV3's params for one twirled CX layer on qubits 0 and 1, by the client."""
    circuit = QuantumCircuit(QuantumRegister(num_qubits, "q"))
    with circuit.box([Twirl()]):
        circuit.cx(0, 1)
    converter = NOISE_LEARNER_V3_PARAMS_CONVERTERS["v0.3"]
    params = converter.encoder([circuit.data[0]], NoiseLearnerV3Options()).model_dump(mode="json")
    return {**params, "version": 3}


def test_hook_qiskit_runtime_device_noise() -> None:
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.programs.noise_learner import learn_noise, prepare_noise_learning

    plugin = DepolarizingDevice()
    host = PluginHost.load(extra_plugins=[("depolarizing", plugin), ("quiet", QuietAboutNoise())])
    catalogue = Catalogue(host)
    backend = catalogue.get("fake_manila@left")
    assert backend is not None
    prepared = prepare_noise_learning(cx_box_params(5), backend)
    text = learn_noise(prepared, backend, host, lambda line: None)
    # One question for the whole job, to the executor's own plugin.
    assert len(plugin.queries) == 1
    assert plugin.queries[0].executor == "left"
    assert GateRef("cx", (0, 1)) in plugin.queries[0].gates
    assert GateRef("sx", (1,)) in plugin.queries[0].gates  # the twirl's dressing
    result = json.loads(text)
    rates = F64TensorModel.model_validate(result["data"][0]["rates"]).to_numpy()
    # Each of the pair's 15 Paulis anticommutes with 8 of the 15 generators: f = exp(-16 r).
    assert np.allclose(rates, -np.log(1 - 0.02) / 16)
    assert result["metadata"]["qiskit_runtime_server"]["noise_source"] == "a toy model"
    # An executor that simulates noise but does not say what it is cannot answer.
    quiet = catalogue.get("fake_manila@quiet")
    assert quiet is not None
    with pytest.raises(InvalidRequest, match="lacks the qiskit_runtime_device_noise hook"):
        prepare_noise_learning(cx_box_params(5), quiet)


class WrongWidth(DepolarizingDevice):
    @hookimpl
    def qiskit_runtime_device_noise(self, query: NoiseQuery) -> DeviceNoise:
        return DeviceNoise(gate_errors=dict.fromkeys(query.gates, depolarizing(0.01)))


def test_device_noise_answers_are_checked() -> None:
    from qiskit_runtime_server.programs.noise_learner import learn_noise, prepare_noise_learning

    host = PluginHost.load(extra_plugins=[("wrong", WrongWidth())])
    backend = Catalogue(host).get("fake_manila@left")
    assert backend is not None
    prepared = prepare_noise_learning(cx_box_params(5), backend)
    with pytest.raises(ExecutorContractError, match="Kraus on 2 qubits for GateRef"):
        learn_noise(prepared, backend, host, lambda line: None)


class NamedOtherwise(TwoExecutors):
    """Implements the hook under another attribute name (pluggy's ``specname``)."""

    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [dataclasses.replace(info("named"), simulates_noise=True)]

    @hookimpl(specname="qiskit_runtime_device_noise")
    def noise(self, query: NoiseQuery) -> DeviceNoise:
        return DeviceNoise(gate_errors=dict.fromkeys(query.gates))


class OnlyWraps(TwoExecutors):
    """Wraps the hook (of other plugins) without implementing it."""

    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [dataclasses.replace(info("wrapper"), simulates_noise=True)]

    @hookimpl(wrapper=True)
    def qiskit_runtime_device_noise(self, query: NoiseQuery) -> Any:
        return (yield)


def test_implements_asks_pluggy() -> None:
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.programs.noise_learner import learn_noise, prepare_noise_learning

    host = PluginHost.load(extra_plugins=[("named", NamedOtherwise()), ("wraps", OnlyWraps())])
    assert host.executors["named"].implements("qiskit_runtime_device_noise")
    assert not host.executors["wrapper"].implements("qiskit_runtime_device_noise")
    catalogue = Catalogue(host)
    named = catalogue.get("fake_manila@named")
    assert named is not None
    prepared = prepare_noise_learning(cx_box_params(5), named)
    learn_noise(prepared, named, host, lambda line: None)
    wrapper = catalogue.get("fake_manila@wrapper")
    assert wrapper is not None
    with pytest.raises(InvalidRequest, match="lacks the qiskit_runtime_device_noise hook"):
        prepare_noise_learning(cx_box_params(5), wrapper)


class OddReadout(DepolarizingDevice):
    def __init__(self, flips: Any) -> None:
        super().__init__()
        self.flips = flips

    @hookimpl
    def qiskit_runtime_device_noise(self, query: NoiseQuery) -> DeviceNoise:
        return DeviceNoise(
            gate_errors=dict.fromkeys(query.gates),
            readout_errors=dict.fromkeys(query.measured_qubits, self.flips),
        )


def measure_box_params(num_qubits: int) -> dict[str, Any]:
    circuit = QuantumCircuit(QuantumRegister(num_qubits, "q"), ClassicalRegister(1))
    with circuit.box([Twirl()]):
        circuit.measure(0, 0)
    converter = NOISE_LEARNER_V3_PARAMS_CONVERTERS["v0.3"]
    params = converter.encoder([circuit.data[0]], NoiseLearnerV3Options()).model_dump(mode="json")
    return {**params, "version": 3}


@pytest.mark.parametrize("flips", [0.1, "ab", (0.1, "x"), (0.1, 0.2, 0.3), None, (0.1, 2.0)])
def test_readout_errors_that_are_not_two_probabilities_are_a_contract_error(flips: Any) -> None:
    from qiskit_runtime_server.programs.noise_learner import learn_noise, prepare_noise_learning

    host = PluginHost.load(extra_plugins=[("odd", OddReadout(flips))])
    backend = Catalogue(host).get("fake_manila@left")
    assert backend is not None
    prepared = prepare_noise_learning(measure_box_params(5), backend)
    with pytest.raises(ExecutorContractError, match=r"expected \(P\(1\|0\), P\(0\|1\)\), two prob"):
        learn_noise(prepared, backend, host, lambda line: None)


class FreshChannels(DepolarizingDevice):
    """Answers every query with new channel objects, and remembers them weakly."""

    def __init__(self) -> None:
        super().__init__()
        self.channels: list[weakref.ref[Any]] = []

    @hookimpl
    def qiskit_runtime_device_noise(self, query: NoiseQuery) -> DeviceNoise:
        errors: dict[GateRef, Any] = {}
        for gate in query.gates:
            channel = depolarizing(0.02) if len(gate.qubits) == 2 else None
            if channel is not None:
                self.channels.append(weakref.ref(channel))
            errors[gate] = channel
        return DeviceNoise(gate_errors=errors)


def test_the_fidelity_tables_live_as_long_as_the_job() -> None:
    """A worker runs many jobs: nothing of one job's answer may stay behind in a cache."""
    from qiskit_runtime_server.programs.noise_learner import learn_noise, prepare_noise_learning

    plugin = FreshChannels()
    host = PluginHost.load(extra_plugins=[("fresh", plugin)])
    backend = Catalogue(host).get("fake_manila@left")
    assert backend is not None
    for _ in range(3):
        prepared = prepare_noise_learning(cx_box_params(5), backend)
        learn_noise(prepared, backend, host, lambda line: None)
    gc.collect()
    assert len(plugin.channels) == 3
    assert all(ref() is None for ref in plugin.channels)


class OneQubitExecutor(DepolarizingDevice):
    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [dataclasses.replace(info("tiny"), simulates_noise=True, max_qubits=1)]


def test_layers_wider_than_the_executor_are_refused() -> None:
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.programs.noise_learner import prepare_noise_learning

    host = PluginHost.load(extra_plugins=[("tiny", OneQubitExecutor())])
    backend = Catalogue(host).get("fake_manila@tiny")
    assert backend is not None
    with pytest.raises(InvalidRequest, match="acts on 2 qubits; the 'tiny' executor"):
        prepare_noise_learning(cx_box_params(5), backend)
