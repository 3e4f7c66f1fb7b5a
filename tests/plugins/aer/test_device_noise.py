"""The device noise model is local testing mode's: the same errors, built from the documents
the server serves, on every kind of device (Heron snapshots carry no qubit frequencies, and
the pre-2021 devices are served in today's basis)."""

from __future__ import annotations

from typing import Any

import pytest
from qiskit_aer.noise import NoiseModel
from qiskit_runtime_server.builtin.device_documents import MODERN_BASIS
from qiskit_runtime_server_aer.noise import NoiseModelCache
from qrs_test_plugins.circuits import fake_device


def local_mode_model(name: str) -> NoiseModel:
    """The model qiskit-ibm-runtime's local testing mode simulates the device with."""
    description = fake_device(name)
    model: NoiseModel = description._class()._get_noise_model_from_backend_v2()
    return model


def relaxation(model: NoiseModel) -> list[tuple[Any, ...]]:
    return [
        (type(p).__name__, p._t1s.tolist(), p._t2s.tolist(), p._dt, p._p1s.tolist())
        for p in model._custom_noise_passes
    ]


#: The qubits compared (comparing QuantumErrors is slow; jobs build the model of theirs).
QUBITS = frozenset(range(8))


def on(model: NoiseModel, qubits: frozenset[int]) -> dict[str, dict[tuple[int, ...], Any]]:
    """``model``'s quantum errors on ``qubits`` only."""
    return {
        name: {q: error for q, error in errors.items() if set(q) <= qubits}
        for name, errors in model._local_quantum_errors.items()
    }


def readout_on(model: NoiseModel, qubits: frozenset[int]) -> dict[tuple[int, ...], Any]:
    return {q: error for q, error in model._local_readout_errors.items() if set(q) <= qubits}


@pytest.mark.parametrize(
    "name",
    [
        "fake_manila",  # Falcon, cx
        pytest.param("fake_sherbrooke", marks=pytest.mark.slow),  # Eagle, ecr
        pytest.param("fake_kingston", marks=pytest.mark.slow),  # Heron: no qubit frequencies
    ],
)
def test_the_model_is_local_testing_modes(name: str) -> None:
    """The model a job on these qubits gets (built from their calibrations alone) has local
    mode's errors on them, except for the derived calibrations of Heron's fractional gates."""
    description = fake_device(name)
    ours = NoiseModelCache().on_qubits(description, QUBITS)
    reference = local_mode_model(name)
    assert ours._local_readout_errors == readout_on(reference, QUBITS)
    derived = description.derived_calibrations()
    mine, local = on(ours, QUBITS), on(reference, QUBITS)
    assert {k: v for k, v in mine.items() if k not in derived} == {
        k: v for k, v in local.items() if k not in derived and v
    }
    for fractional, source in (("rx", "sx"), ("rzz", "cz")):
        if fractional in derived:  # the snapshot's own calibration, or the source gate's
            assert set(mine[fractional]) == set(local[fractional])
            for qubits, error in mine[fractional].items():
                assert error in (local[fractional][qubits], mine[source][qubits])
    assert not ours._default_quantum_errors
    assert not reference._default_quantum_errors
    assert relaxation(ours) == relaxation(reference)


def test_a_pre_2021_device_keeps_its_errors_under_todays_gate_names() -> None:
    ours = NoiseModelCache().on_qubits(fake_device("fake_london"), range(5))  # all its qubits
    reference = local_mode_model("fake_london")
    renamed = {
        MODERN_BASIS.get(name, name): errors
        for name, errors in reference._local_quantum_errors.items()
    }
    assert ours._local_quantum_errors == renamed
    assert {"sx", "x", "cx"} <= set(ours._local_quantum_errors)
    assert ours._local_readout_errors == reference._local_readout_errors
    assert relaxation(ours) == relaxation(reference)
