"""IBM's error mitigation applied to legacy ``EstimatorV2`` jobs on a noisy fake device.

The server maps the job's PUBs and ``resilience``/``twirling``/``dynamical_decoupling`` options
onto the client-side estimator's own preparation and post-processing (qiskit-mitigation,
samplomatic) and runs the resulting QuantumProgram with the device's noise
(``programs/mitigated_estimator.py``). These tests show each level's and option's effect on a
GHZ state, whose ideal values are known.

Circuits are narrow (4 qubits in fake_kolkata's basis on physical qubits 0-3, where CX(0,1),
CX(1,2) and CX(2,3) exist), as in test_mitigation.py; one test checks that a device-wide
circuit gives the same values.

Measured on this server (2 cores, 4 runs, precision 0.01), mean |1 - evs| over the four
observables: level 0 0.066-0.070, level 1 0.022-0.030, level 2 0.0035-0.0049.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService
from qrs_test_plugins.mitigation import GHZ4_OBSERVABLES, ghz4

pytestmark = pytest.mark.parametrize("server", ["sqlite"], indirect=True)

KOLKATA = "fake_kolkata@aer"
OBSERVABLES = GHZ4_OBSERVABLES
K = 5  # sigmas
#: Every job is seeded unless a test passes its own seeds: the bounds below are in units of
#: the *reported* stds, and at level 1 the run-to-run spread has been measured at about twice
#: those (a device-wide comparison within 5 stds failed CI at 5.3), so unseeded, a "5 sigma"
#: bound is nearer 2.5 real sigma. Seeded, each test is reproducible: it passes or fails the
#: same way on every run, and still fails where the mitigation is wrong.
SEEDS = {"seed_estimator": 101, "simulator__seed_simulator": 102}


def estimator(service: QiskitRuntimeService, level: int, **opts: object) -> EstimatorV2:
    """An EstimatorV2 on fake_kolkata; ``opts`` are option paths with ``__`` for dots, and
    SEEDS apply where ``opts`` gives no seed of its own."""
    estimator = EstimatorV2(mode=service.backend(KOLKATA))
    estimator.options.resilience_level = level
    for path, value in {**SEEDS, **opts}.items():
        target = estimator.options
        *parents, name = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)
    return estimator


def run(
    service: QiskitRuntimeService,
    level: int,
    precision: float,
    circuit: QuantumCircuit | None = None,
    **opts: object,
) -> object:
    """The result of ``circuit`` (GHZ-4 by default) with OBSERVABLES at ``level``."""
    pub = (circuit if circuit is not None else ghz4(), OBSERVABLES)
    return estimator(service, level, **opts).run([pub], precision=precision).result()


def mean_bias(result: object) -> float:
    return float(np.mean(np.abs(1 - result[0].data.evs)))  # type: ignore[index]


def test_each_resilience_level_reduces_the_bias_of_ghz4(service: QiskitRuntimeService) -> None:
    """The issue's fidelity target: mean bias at level 1 (TREX with measurement twirling) at
    most 0.85x level 0's, level 2 (+ gate twirling, ZNE by gate folding) at most 0.85x level
    1's. Measured ratios 0.31-0.43 and 0.12-0.22; the result says what each level applied."""
    results = {level: run(service, level, 0.01) for level in (0, 1, 2)}
    bias = {level: mean_bias(result) for level, result in results.items()}
    assert bias[1] <= 0.85 * bias[0], bias
    assert bias[2] <= 0.85 * bias[1], bias

    flags = {
        level: (
            result.metadata["resilience"]["measure_mitigation"],
            result.metadata["resilience"]["zne_mitigation"],
            result.metadata["twirling"]["enable_measure"],
            result.metadata["twirling"]["enable_gates"],
        )
        for level, result in results.items()
    }
    assert flags == {
        0: (False, False, False, False),
        1: (True, False, True, False),
        2: (True, True, True, True),
    }
    for result in results.values():
        assert result.metadata["qiskit_runtime_server"]["ignored_options"] == []
    assert results[0][0].metadata["shots"] == 10_000
    assert results[1][0].metadata["num_randomizations"] == 32
    assert results[1][0].metadata["shots"] >= 10_000
    zne = results[2][0].data
    assert zne.evs_noise_factors.shape == (4, 3)  # noise factors 1, 3, 5
    assert zne.stds_noise_factors.shape == zne.ensemble_stds_noise_factors.shape == (4, 3)
    # Extrapolators exponential and linear, evaluated at 0, 1, 3 and 5.
    assert zne.evs_extrapolated.shape == zne.stds_extrapolated.shape == (4, 2, 4)
    assert zne.ensemble_standard_error.shape == (4,)
    assert set(results[2][0].metadata["resilience"]["zne"]["extrapolators"]) <= {
        "exponential",
        "linear",
    }


def test_twirling_options_set_the_randomizations_and_shots(
    service: QiskitRuntimeService,
) -> None:
    """``num_randomizations`` and ``shots_per_randomization`` make the shots, counted as IBM
    counts them; ``stds`` is then the spread over randomizations, not the shot error."""
    result = run(
        service,
        1,
        0.02,
        twirling__num_randomizations=8,
        twirling__shots_per_randomization=100,
        twirling__strategy="active",
    )
    metadata = result[0].metadata
    assert (metadata["num_randomizations"], metadata["shots"]) == (8, 800)
    assert result.metadata["twirling"]["strategy"] == "active"
    assert result.metadata["twirling"]["num_randomizations"] == 8
    assert not np.array_equal(result[0].data.stds, result[0].data.ensemble_standard_error)


def test_measure_mitigation_off_keeps_the_readout_bias(service: QiskitRuntimeService) -> None:
    """Level 1 with ``measure_mitigation`` off twirls the measurements only: the readout
    error (about 2 x 1-2 % per observable on qubits 0-3) stays, so the values are below the
    TREX values by more than 5 sigma on average."""
    plain = run(service, 1, 0.01, resilience__measure_mitigation=False)
    trex = run(service, 1, 0.01)
    assert plain.metadata["resilience"]["measure_mitigation"] is False
    assert plain.metadata["twirling"]["enable_measure"] is True
    gap = float(np.mean(trex[0].data.evs - plain[0].data.evs))
    sigma = float(np.sqrt(np.sum(trex[0].data.stds ** 2 + plain[0].data.stds ** 2))) / 4
    assert gap > K * sigma, (trex[0].data.evs, plain[0].data.evs, sigma)


@pytest.mark.parametrize("amplifier", ["gate_folding_front", "gate_folding_back"])
def test_zne_options_shape_the_extrapolation(service: QiskitRuntimeService, amplifier: str) -> None:
    """Noise factors 1, 2, 3 with the linear extrapolator, folding from the front or the back:
    the amplified values fall with the noise factor (the first against the last, averaged over
    the observables, 5 sigma), and the extrapolated value is the linear fit's value at 0."""
    result = run(
        service,
        2,
        0.015,
        resilience__zne__noise_factors=(1, 2, 3),
        resilience__zne__extrapolator="linear",
        resilience__zne__amplifier=amplifier,
    )
    data = result[0].data
    assert data.evs_noise_factors.shape == (4, 3)
    assert data.evs_extrapolated.shape == (4, 1, 4)  # at 0, 1, 2 and 3
    values, sigma = data.evs_noise_factors, data.stds_noise_factors
    drop = float(np.mean(values[:, 0] - values[:, 2]))
    assert drop > K * np.sqrt(np.sum(sigma[:, 0] ** 2 + sigma[:, 2] ** 2)) / 4, (values, sigma)
    np.testing.assert_allclose(data.evs_extrapolated[:, 0, 0], data.evs, atol=1e-9)
    assert set(result[0].metadata["resilience"]["zne"]["extrapolators"]) == {"linear"}


def test_dynamical_decoupling_is_applied_and_said(service: QiskitRuntimeService) -> None:
    """Decoupling (XY4 on idle qubits, scheduled as IBM schedules it) runs with the device's
    noise on every pulse. Aer's idle noise is Markovian relaxation, which decoupling does not
    refocus, so its effect here is the pulses' own errors: the values stay within 5 sigma
    plus 0.05 of the undecoupled ones."""
    plain = run(service, 1, 0.02)
    decoupled = run(
        service,
        1,
        0.02,
        dynamical_decoupling__enable=True,
        dynamical_decoupling__sequence_type="XY4",
    )
    assert decoupled.metadata["dynamical_decoupling"]["enable"] is True
    assert decoupled.metadata["dynamical_decoupling"]["sequence_type"] == "XY4"
    sigma = np.hypot(plain[0].data.stds, decoupled[0].data.stds)
    assert np.all(np.abs(plain[0].data.evs - decoupled[0].data.evs) <= K * sigma + 0.05)


def test_pec_is_unbiased_within_its_stds(service: QiskitRuntimeService) -> None:
    """PEC with the layer noise the server learns as its noise-learner program does (exactly,
    from the device's noise model): every value within 5 sigma of the ideal 1, and the
    sampling overhead makes the stds larger than TREX's at the same precision."""
    pec = run(service, 1, 0.02, resilience__pec_mitigation=True, twirling__num_randomizations=256)
    trex = run(service, 1, 0.02)
    data = pec[0].data
    assert pec.metadata["resilience"]["pec_mitigation"] is True
    assert pec.metadata["qiskit_runtime_server"]["ignored_options"] == []
    assert np.all(np.abs(1 - data.evs) <= K * data.stds), (data.evs, data.stds)
    assert np.all(data.stds > trex[0].data.stds), (data.stds, trex[0].data.stds)
    overhead = pec[0].metadata["resilience"]["pec"]
    assert overhead["sampling_overhead"] == pytest.approx(overhead["gamma"] ** 2)
    assert 1 < overhead["gamma"] < 2, overhead  # 3 CX of fake_kolkata


@pytest.mark.slow
def test_pea_amplifies_the_learned_noise(service: QiskitRuntimeService) -> None:
    """ZNE with PEA at level 2: the learned noise of each layer is injected at the noise
    factors 1, 3, 5; the amplified values fall with the factor (averaged over the
    observables, 5 sigma)."""
    result = run(
        service, 2, 0.02, resilience__zne__amplifier="pea", twirling__num_randomizations=512
    )
    data = result[0].data
    assert result.metadata["qiskit_runtime_server"]["ignored_options"] == []
    values, sigma = data.evs_noise_factors, data.stds_noise_factors
    drop = float(np.mean(values[:, 0] - values[:, 2]))
    assert drop > K * np.sqrt(np.sum(sigma[:, 0] ** 2 + sigma[:, 2] ** 2)) / 4, (values, sigma)


def test_a_device_wide_circuit_gives_the_values_of_the_narrow_one(
    service: QiskitRuntimeService,
) -> None:
    """GHZ-4 transpiled to all 27 qubits of fake_kolkata on qubits 0-3: its idle qubits run
    nowhere, so with the same seeds its level-1 values are those of the narrow circuit, to the
    last digit (the same program ran).

    Compared within the reported stds instead, this failed once in CI at 5.3 sigma: over six
    unseeded runs XXXX's values spread about twice as wide as the stds the client's
    post-processor reports."""
    backend = service.backend(KOLKATA)
    wide = generate_preset_pass_manager(0, backend=backend, initial_layout=[0, 1, 2, 3]).run(ghz4())
    observables = [o.apply_layout(wide.layout) for o in OBSERVABLES]
    assert wide.num_qubits == 27
    seeded = {"seed_estimator": 11, "simulator__seed_simulator": 12}
    result = estimator(service, 1, **seeded).run([(wide, observables)], precision=0.02).result()
    narrow = run(service, 1, 0.02, **seeded)
    np.testing.assert_allclose(result[0].data.evs, narrow[0].data.evs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result[0].data.stds, narrow[0].data.stds, rtol=1e-12, atol=1e-12)


def test_seeds_make_a_mitigated_job_reproducible(service: QiskitRuntimeService) -> None:
    """``seed_estimator`` seeds the randomizations and ``simulator.seed_simulator`` the shots:
    the same seeds give the same mitigated values, another seed other values."""
    seeded = {"seed_estimator": 11, "simulator__seed_simulator": 12}
    first = run(service, 2, 0.05, **seeded)
    again = run(service, 2, 0.05, **seeded)
    other = run(service, 2, 0.05, seed_estimator=13, simulator__seed_simulator=12)
    np.testing.assert_array_equal(first[0].data.evs, again[0].data.evs)
    assert not np.array_equal(first[0].data.evs, other[0].data.evs)


def test_a_users_layer_noise_model_is_what_pec_removes(service: QiskitRuntimeService) -> None:
    """``resilience.layer_noise_model`` from the legacy workflow (a ``NoiseLearner`` job on the
    same circuit): PEC uses its LayerErrors, so its gamma is the one PEC reaches with the noise
    it learns itself (the same exact rates); with every rate set to 0 there is nothing to
    remove and gamma is 1."""
    from qiskit_ibm_runtime.noise_learner import NoiseLearner
    from qiskit_ibm_runtime.results.noise_learner import LayerError, PauliLindbladError

    backend = service.backend(KOLKATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy workflow, on purpose
        learner = NoiseLearner(backend)
    learned = learner.run([ghz4()]).result()
    assert len(learned.data) == 3  # CX(0,1), CX(1,2), CX(2,3)
    zero = [
        LayerError(
            layer.circuit,
            layer.qubits,
            PauliLindbladError(layer.error.generators, np.zeros(len(layer.error.rates))),
        )
        for layer in learned.data
    ]
    gammas = {}
    reports = {}
    models = (("given", learned), ("zero", zero), ("own", None), ("part", learned.data[:1]))
    for name, model in models:
        opts: dict[str, object] = {"resilience__pec_mitigation": True}
        if model is not None:
            opts["resilience__layer_noise_model"] = model
        result = run(service, 1, 0.05, **opts)
        assert result.metadata["qiskit_runtime_server"]["ignored_options"] == []
        gammas[name] = result[0].metadata["resilience"]["pec"]["gamma"]
        reports[name] = result.metadata["resilience"]["layer_noise"]
    assert gammas["zero"] == pytest.approx(1.0)
    assert gammas["given"] == pytest.approx(gammas["own"], rel=1e-6)
    assert gammas["own"] > 1.01, gammas
    # A model of one layer: nothing is learned (as on IBM), the other two are not mitigated.
    assert 1.0 < gammas["part"] < gammas["own"], gammas
    assert reports["part"]["source"] == "layer_noise_model"
    assert [layer["mitigated"] for layer in reports["part"]["layers"]] == [True, False, False]
    assert reports["own"]["source"] == "learned"
    assert all(layer["mitigated"] for layer in reports["own"]["layers"])


def ghz4_with_a_cx_pair() -> QuantumCircuit:
    """GHZ-4, then CX(2,3) twice (the identity: the ideal values stay 1). With IBM's default
    twirling strategy (active-accum) the last three CX layers are one unique layer on qubits
    0-3 occurring three times; CX(0,1) and CX(1,2) occur once each."""
    circuit = ghz4()
    circuit.cx(2, 3)
    circuit.cx(2, 3)
    return circuit


def test_max_layers_to_learn_limits_the_mitigated_layers(service: QiskitRuntimeService) -> None:
    """PEC learns at most ``max_layers_to_learn`` unique layers, the most frequent first; the
    others are not mitigated. PEC's gamma is the product over the layers it mitigates, so it
    grows with the limit: 1 with 0 layers, that of the thrice-occurring layer alone with 1,
    and the same with IBM's default of 4 as with no limit (this job has 3 unique layers). The
    result says which layers were learned, the job's log which were not mitigated."""
    gammas, reports, logs = {}, {}, {}
    for limit in (0, 1, "default", None):
        opts: dict[str, object] = {"resilience__pec_mitigation": True}
        if limit != "default":
            opts["resilience__layer_noise_learning__max_layers_to_learn"] = limit
        job = estimator(service, 1, **opts).run(
            [(ghz4_with_a_cx_pair(), OBSERVABLES)], precision=0.05
        )
        result = job.result()
        assert result.metadata["qiskit_runtime_server"]["ignored_options"] == []
        gammas[limit] = result[0].metadata["resilience"]["pec"]["gamma"]
        reports[limit] = result.metadata["resilience"]["layer_noise"]
        logs[limit] = job.logs()
    assert logs[1].count("is not mitigated") == 2, logs[1]
    assert "noise learned for 1 (max_layers_to_learn=1)" in logs[1], logs[1]
    assert "is not mitigated" not in logs[None], logs[None]
    layers = reports[None]["layers"]
    assert sorted(layer["occurrences"] for layer in layers) == [1, 1, 3]
    assert reports["default"]["max_layers_to_learn"] == 4
    assert reports[None]["max_layers_to_learn"] is None
    mitigated = {
        limit: sorted(layer["occurrences"] for layer in report["layers"] if layer["mitigated"])
        for limit, report in reports.items()
    }
    assert mitigated == {0: [], 1: [3], "default": [1, 1, 3], None: [1, 1, 3]}
    assert gammas[0] == pytest.approx(1.0)
    assert 1.0 < gammas[1] < gammas[None], gammas
    assert gammas["default"] == pytest.approx(gammas[None], rel=1e-9)


def test_learning_experiment_options_are_ignored_with_the_reason(
    service: QiskitRuntimeService,
) -> None:
    """``layer_noise_learning``'s ``num_randomizations``, ``shots_per_randomization`` and
    ``layer_pair_depths`` steer an experiment the server does not run (it computes the
    rates exactly): listed in ``ignored_options``, each with its reason in
    ``ignored_option_reasons``; ``max_layers_to_learn`` is applied, so not listed."""
    result = run(
        service,
        1,
        0.05,
        resilience__pec_mitigation=True,
        resilience__layer_noise_learning__num_randomizations=8,
        resilience__layer_noise_learning__shots_per_randomization=64,
        resilience__layer_noise_learning__layer_pair_depths=[0, 1, 2],
        resilience__layer_noise_learning__max_layers_to_learn=2,
    )
    server = result.metadata["qiskit_runtime_server"]
    paths = [
        f"resilience.layer_noise_learning.{name}"
        for name in ("num_randomizations", "shots_per_randomization", "layer_pair_depths")
    ]
    assert sorted(server["ignored_options"]) == sorted(paths)
    assert set(server["ignored_option_reasons"]) == set(paths)
    for reason in server["ignored_option_reasons"].values():
        assert "experiment, which the server does not run" in reason
    assert result.metadata["resilience"]["layer_noise"]["max_layers_to_learn"] == 2


def test_trex_calibration_runs_its_own_shots(service: QiskitRuntimeService) -> None:
    """``measure_noise_learning.shots_per_randomization`` as an int (deprecated by IBM,
    accepted): the TREX calibration item runs that many shots per randomization, the PUBs
    their own, and the client's post-processing reads the flip rates from whatever shots the
    calibration has. With 4 x 5000 calibration shots the readout bias is removed as with
    ``auto``: the values lie above those without TREX by more than 5 sigma on average."""
    with pytest.warns(DeprecationWarning, match="shots_per_randomization"):  # IBM's, on set
        job = estimator(
            service,
            1,
            resilience__measure_noise_learning__num_randomizations=4,
            resilience__measure_noise_learning__shots_per_randomization=5000,
        ).run([(ghz4(), OBSERVABLES)], precision=0.01)
    calibrated = job.result()
    plain = run(service, 1, 0.01, resilience__measure_mitigation=False)
    auto_job = estimator(service, 1).run([(ghz4(), OBSERVABLES)], precision=0.01)
    auto = auto_job.result()
    assert calibrated.metadata["qiskit_runtime_server"]["ignored_options"] == []
    # The job's log says what the calibration ran (IBM's metadata has no place for it).
    assert "TREX calibration of PUBs [0]: 4 randomizations x 5000 shots" in job.logs()
    metadata = auto[0].metadata
    per_randomization = metadata["shots"] // metadata["num_randomizations"]
    assert (
        f"TREX calibration of PUBs [0]: {metadata['num_randomizations']} randomizations x "
        f"{per_randomization} shots" in auto_job.logs()
    )
    assert calibrated[0].metadata["shots"] == metadata["shots"]  # the PUB's are unchanged
    gap = float(np.mean(calibrated[0].data.evs - plain[0].data.evs))
    sigma = float(np.sqrt(np.sum(calibrated[0].data.stds ** 2 + plain[0].data.stds ** 2))) / 4
    assert gap > K * sigma, (calibrated[0].data.evs, plain[0].data.evs, sigma)
