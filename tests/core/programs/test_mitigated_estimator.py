"""The mapping of a legacy estimator job onto the client-side estimator's machinery:
options, which paths are honoured, and PUBs narrowed to the qubits that act and put back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from httpx import Client
from qiskit import QuantumCircuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_runtime_server.errors import InvalidRequest
from qiskit_runtime_server.programs import mitigated_estimator as me
from qiskit_runtime_server.programs.noise_learner import layers_to_learn
from qiskit_runtime_server.testing import encode_job_body
from qrs_test_plugins.mitigation import GHZ4_OBSERVABLES, ghz4

from ..conftest import assert_ibm_error


def test_legacy_options_map_onto_the_client_side_options() -> None:
    options = me.client_options(
        {
            "resilience_level": 2,
            "default_shots": 100,  # resolved by the core, not mapped
            "twirling": {"num_randomizations": 8, "strategy": "active"},
            "resilience": {
                "zne": {"noise_factors": [1, 2, 3], "extrapolator": "linear"},
                "layer_noise_learning": {"max_layers_to_learn": 2},
            },
            "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
        }
    )
    assert options.resilience_level == 2
    assert options.twirling.num_randomizations == 8
    assert options.twirling.strategy == "active"
    assert list(options.resilience.zne.noise_factors) == [1, 2, 3]
    assert options.resilience.zne.extrapolator == "linear"
    assert options.dynamical_decoupling.sequence_type == "XY4"
    finalized = me.finalize(options)
    assert finalized.twirling.enable_gates
    assert finalized.resilience.zne_mitigation
    assert me.applies(finalized)
    assert not me.applies(me.finalize(me.client_options({"resilience_level": 0})))


def test_a_value_the_client_refuses_is_a_clear_400() -> None:
    with pytest.raises(InvalidRequest, match=r"twirling\.num_randomizations"):
        me.client_options({"twirling": {"num_randomizations": 0}})


def test_honoured_paths_are_the_mapped_ones() -> None:
    paths = [
        "resilience_level",
        "twirling.enable_gates",
        "resilience.zne.amplifier",
        "resilience.pec.max_overhead",
        "resilience.measure_noise_learning.num_randomizations",
        "resilience.layer_noise_model",
        "resilience.measure_noise_learning.shots_per_randomization",
        "resilience.layer_noise_learning.max_layers_to_learn",
        "resilience.layer_noise_learning.num_randomizations",
        "resilience.layer_noise_learning.shots_per_randomization",
        "resilience.layer_noise_learning.layer_pair_depths",
        "execution.init_qubits",
    ]
    assert me.honoured_paths(paths) == paths[:8]
    reasons = me.not_applied_reasons(paths[8:])
    assert set(reasons) == set(paths[8:11])  # execution.* has no known reason here
    assert all("experiment, which the server does not run" in r for r in reasons.values())
    # With a layer_noise_model nothing is learned: max_layers_to_learn is not applied.
    given = {"resilience": {"layer_noise_model": ["a LayerError"]}}
    assert paths[7] not in me.honoured_paths(paths, given)
    assert "layer_noise_model is given" in me.not_applied_reasons([paths[7]], given)[paths[7]]


@pytest.mark.parametrize(
    ("section", "values", "fragment"),
    [
        ("layer_noise_learning", {"max_layers_to_learn": -1}, "max_layers_to_learn"),
        ("layer_noise_learning", {"max_layers_to_learn": "all"}, "max_layers_to_learn"),
        ("layer_noise_learning", {"num_randomizations": 0}, "num_randomizations"),
        ("layer_noise_learning", {"shots_per_randomization": 0}, "shots_per_randomization"),
        ("layer_noise_learning", {"layer_pair_depths": [0, -2]}, ">= 0"),
        ("layer_noise_learning", {"layer_pair_depths": 3}, "layer_pair_depths"),
        ("measure_noise_learning", {"shots_per_randomization": 0}, "shots_per_randomization"),
        ("measure_noise_learning", {"shots_per_randomization": "x"}, "shots_per_randomization"),
        ("measure_noise_learning", 5, "must be an object"),
    ],
)
def test_bad_learning_options_are_refused_as_the_legacy_client_refuses_them(
    section: str, values: object, fragment: str
) -> None:
    with pytest.raises(InvalidRequest, match=fragment) as caught:
        me.learning_options({"resilience": {section: values}})
    assert f"resilience.{section}" in caught.value.message


def test_learning_options_default_to_ibms() -> None:
    assert me.learning_options({}) == me.LearningOptions(4, None)
    assert me.learning_options(
        {
            "resilience": {
                "layer_noise_learning": {"max_layers_to_learn": None, "layer_pair_depths": [0]},
                "measure_noise_learning": {"shots_per_randomization": 300},
            }
        }
    ) == me.LearningOptions(None, 300)
    assert me.learning_options(
        {"resilience": {"layer_noise_learning": {"max_layers_to_learn": 0}}}
    ) == me.LearningOptions(0, None)
    assert me.learning_options(
        {"resilience": {"measure_noise_learning": {"shots_per_randomization": "auto"}}}
    ) == me.LearningOptions(4, None)


@pytest.mark.parametrize(
    ("backend", "options"),
    [
        ("fake_manila@aer", {"resilience": {"layer_noise_learning": {"num_randomizations": 0}}}),
        ("ideal_simulator@aer", {"resilience": {"layer_noise_learning": {"max_layers_to_learn": -1}}}),
        ("fake_manila@aer", {"resilience": {"measure_noise_learning": {"shots_per_randomization": -5}}}),
    ],
)  # fmt: skip
def test_bad_learning_options_are_a_400_on_every_backend(
    client: Client, backend: str, options: dict[str, object]
) -> None:
    """What the legacy client refuses before sending is refused by the server too (a client
    that skips validation, or another client), noisy backend or not: a 400, never a 500."""
    body = encode_job_body("estimator", backend, [(ghz4(), GHZ4_OBSERVABLES)], options)
    assert_ibm_error(
        client.post("/api/v1/jobs", json=body), 400, "invalid_request", "invalid 'resilience."
    )


def _layered(*layers: list[tuple[int, int]]) -> QuantumCircuit:
    """A 4-qubit circuit of CX layers separated by barriers, so each is one box."""
    circuit = QuantumCircuit(4)
    circuit.h(range(4))
    for layer in layers:
        for control, target in layer:
            circuit.cx(control, target)
        circuit.barrier()
    return circuit


def test_unique_layers_are_counted_and_ranked_as_ibm_ranks_them() -> None:
    """A layer's occurrences are counted over every PUB's circuit; occurrences, then the
    number of two-qubit gates, decide which layers ``max_layers_to_learn`` keeps (``noise_learner.layers_to_learn``, shared
    with the noise-learner program)."""
    pair, middle, last = [(0, 1), (2, 3)], [(1, 2)], [(2, 3)]
    first = _layered(pair, middle, last, last, last)
    second = _layered(middle, last)
    pubs = [
        EstimatorPub.coerce((circuit, SparsePauliOp("ZZZZ")), 0.1) for circuit in (first, second)
    ]
    # Twirling strategy "active": a box has the qubits of its gates (with IBM's default,
    # "active-accum", a layer after others also has their qubits, so it is another layer).
    options = me.client_options(
        {
            "resilience_level": 1,
            "resilience": {"pec_mitigation": True},
            "twirling": {"strategy": "active"},
        }
    )
    layers = me.unique_layers(pubs, (0, 1, 2, 3), options)
    assert len(layers) == 3
    by_gates = {layer.signature[1]: layer for layer in layers}
    assert {gates: layer.occurrences for gates, layer in by_gates.items()} == {
        (("cx", (0, 1)), ("cx", (2, 3))): 1,
        (("cx", (1, 2)),): 2,
        (("cx", (2, 3)),): 4,
    }
    ranked = [
        layers[index].signature[1]
        for index in layers_to_learn([(x.occurrences, x.two_qubit_gates) for x in layers], None)
    ]
    assert ranked == [(("cx", (2, 3)),), (("cx", (1, 2)),), (("cx", (0, 1)), ("cx", (2, 3)))]
    ties = [(1, 1), (1, 2), (3, 0), (1, 2)]
    assert layers_to_learn(ties, None) == [2, 1, 3, 0]  # stable: first appearance last
    assert layers_to_learn(ties, 2) == [2, 1]
    assert layers_to_learn(ties, 0) == []


def test_a_device_wide_pub_runs_on_the_qubits_that_act() -> None:
    """A Bell pair on qubits 2 and 5 of a 7-qubit circuit, observables also on qubits 1, 4 and
    6: narrowed to qubits (1, 2, 4, 5, 6) with the same expectation values; the program's
    circuits are put back on the device's qubits."""
    circuit = QuantumCircuit(7)
    circuit.h(2)
    circuit.cx(2, 5)
    circuit.barrier()
    observables = [SparsePauliOp("IIIIZZI"), SparsePauliOp("ZIXIIXI")]
    pub = EstimatorPub.coerce((circuit, observables), 0.01)
    qubits = me._acting_qubits([pub])
    assert qubits == (1, 2, 4, 5, 6)
    narrow = me._narrowed(pub, qubits)
    assert narrow.circuit.num_qubits == 5
    for wide_obs, narrow_obs in zip(
        pub.observables.tolist(), narrow.observables.tolist(), strict=True
    ):
        wide_value = Statevector(circuit).expectation_value(
            SparsePauliOp.from_list(list(wide_obs.items()))
        )
        narrow_value = Statevector(narrow.circuit).expectation_value(
            SparsePauliOp.from_list(list(narrow_obs.items()))
        )
        assert np.isclose(wide_value, narrow_value)
    measured = narrow.circuit.copy()
    measured.measure_all()
    wide = me._widened(measured, qubits, 7)
    assert wide.num_qubits == 7
    assert wide.cregs == measured.cregs
    assert [wide.find_bit(q).index for q in wide.data[0].qubits] == [qubits[1]]  # the H


def test_the_trex_calibration_item_runs_its_own_shots() -> None:
    """``measure_noise_learning.shots_per_randomization`` (an int) goes to the program's TREX
    calibration item only (the item qiskit-mitigation names in the passthrough data); the
    PUB's items keep the program's shots, and the executions count both."""
    from qiskit_runtime_server.programs.quantum_program import sample_items

    pub = EstimatorPub.coerce((ghz4(), GHZ4_OBSERVABLES), 0.05)
    options = me.client_options({"resilience_level": 1})
    auto = me._prepare_group([pub], (0,), 0.05, options, None, {})
    group = me._prepare_group([pub], (0,), 0.05, options, None, {}, me.LearningOptions(4, 777))
    calibration = me._trex_item(group.program)
    assert calibration == len(group.job.items) - 1  # appended after the PUB's items
    shots = [item.pub.shots for item in sample_items(group.job)]
    assert shots[calibration] == 777
    assert set(shots[:calibration]) == {group.job.shots} != {777}
    assert [item.pub.shots for item in sample_items(auto.job)] == [group.job.shots] * len(shots)
    size = group.job.items[calibration].size
    assert group.job.executions - auto.job.executions == size * (777 - group.job.shots)


def _run_mitigated(options: dict[str, object]) -> tuple[Any, list[str], list[str]]:
    """GHZ-4 at precision 0.1 on fake_manila@aer through the job path (submission, then the
    mitigated run a worker makes): the result, its ignored options and its log."""
    import json

    from qiskit_ibm_runtime import RuntimeDecoder
    from qiskit_runtime_server.catalogue import Catalogue
    from qiskit_runtime_server.jobs.submission import prepare_task
    from qiskit_runtime_server.plugins import PluginHost
    from qiskit_runtime_server.programs.prepared import JobRun

    host = PluginHost.load()
    body = encode_job_body(
        "estimator", "fake_manila@aer", [(ghz4(), GHZ4_OBSERVABLES, None, 0.1)], options
    )
    prepared = prepare_task("estimator", "fake_manila@aer", body["params"], job_id="m",
                            catalogue=Catalogue(host), default_shots=100)  # fmt: skip
    log: list[str] = []
    result = json.loads(prepared.run(JobRun(plugins=host, log=log.append)), cls=RuntimeDecoder)
    return result, prepared.ignored_options, log


def test_an_empty_layer_noise_model_is_a_model_nothing_is_learned() -> None:
    """IBM: a ``layer_noise_model`` that is not None skips learning, and layers it lacks are
    not mitigated; an empty list is such a model (the client sends ``[]`` as is). So PEC
    mitigates nothing (gamma 1), and ``max_layers_to_learn`` is not applied, as the result
    says. (It was learned as if no model had been given, while the result said otherwise.)"""
    options: dict[str, object] = {
        "resilience_level": 1,
        "seed_estimator": 1,
        "resilience": {
            "pec_mitigation": True,
            "layer_noise_model": [],
            "layer_noise_learning": {"max_layers_to_learn": 2},
        },
    }
    result, ignored, log = _run_mitigated(options)
    report = result.metadata["resilience"]["layer_noise"]
    assert report["source"] == "layer_noise_model"
    assert report["layers"]
    assert not any(layer["mitigated"] for layer in report["layers"])
    assert result[0].metadata["resilience"]["pec"]["gamma"] == pytest.approx(1.0)
    assert ignored == ["resilience.layer_noise_learning.max_layers_to_learn"]
    assert not any("learned for" in line for line in log), log


@pytest.mark.parametrize(
    "options",
    [
        {"resilience": {"measure_noise_learning": {"shots_per_randomization": 10**9}}},
        {"twirling": {"num_randomizations": 10**4, "shots_per_randomization": 10**5}},
    ],
    ids=["trex-calibration-shots", "twirling-shots"],
)
def test_the_executions_limit_counts_the_shots_mitigation_runs(options: dict[str, Any]) -> None:
    """Options that set the mitigated run's shots themselves (TREX calibration shots, twirling's
    randomizations x shots) are not bounded by the PUBs' 1/precision^2: the executions limit
    counts what the run simulates, so such a job is a 400 at submission instead of 10^9 shots
    per randomization in a worker. A job within the limit keeps its count."""
    from qiskit_runtime_server.catalogue import Catalogue
    from qiskit_runtime_server.jobs.submission import prepare_submission
    from qiskit_runtime_server.plugins import PluginHost

    catalogue = Catalogue(PluginHost.load())

    def submit(job_options: dict[str, Any]) -> Any:
        body = encode_job_body(
            "estimator", "fake_manila@aer", [(ghz4(), GHZ4_OBSERVABLES, None, 0.1)], job_options
        )
        return prepare_submission(body, instance="crn", catalogue=catalogue, default_shots=100,
                                  max_executions=5_000_000)  # fmt: skip

    plain = submit({"resilience_level": 1})
    assert plain.prepared.executions <= 1000  # about 1/precision^2 per basis
    with pytest.raises(InvalidRequest, match="executions") as caught:
        submit({"resilience_level": 1, **options})
    assert "with error mitigation the shots its circuits run" in caught.value.message
