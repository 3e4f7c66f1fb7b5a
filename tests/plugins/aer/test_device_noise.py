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


def first_qubits(model: NoiseModel) -> dict[str, dict[tuple[int, ...], Any]]:
    return {
        name: {qubits: error for qubits, error in errors.items() if max(qubits) < 8}
        for name, errors in model._local_quantum_errors.items()
    }


@pytest.mark.parametrize(
    "name",
    [
        "fake_manila",  # Falcon, cx
        pytest.param("fake_sherbrooke", marks=pytest.mark.slow),  # Eagle, ecr
        pytest.param("fake_kingston", marks=pytest.mark.slow),  # Heron: no qubit frequencies
    ],
)
def test_the_model_is_local_testing_modes(name: str) -> None:
    """Except for the derived calibrations of Heron's fractional gates (below)."""
    description = fake_device(name)
    ours = NoiseModelCache().device_noise(description)
    reference = local_mode_model(name)
    assert ours is not None
    assert ours._local_readout_errors == reference._local_readout_errors
    # Comparing QuantumErrors is slow: every instruction's errors on the first eight qubits.
    derived = description.derived_calibrations()
    mine, local = first_qubits(ours), first_qubits(reference)
    assert {k: v for k, v in mine.items() if k not in derived} == {
        k: v for k, v in local.items() if k not in derived
    }
    for fractional, source in (("rx", "sx"), ("rzz", "cz")):
        if fractional in derived:
            assert mine[fractional] == mine[source]
    assert {k: set(v) for k, v in ours._local_quantum_errors.items()} == {
        k: set(v) for k, v in reference._local_quantum_errors.items()
    }
    assert not ours._default_quantum_errors
    assert not reference._default_quantum_errors
    assert relaxation(ours) == relaxation(reference)
    assert set(ours.basis_gates) == set(reference.basis_gates)


def test_a_pre_2021_device_keeps_its_errors_under_todays_gate_names() -> None:
    ours = NoiseModelCache().device_noise(fake_device("fake_london"))
    reference = local_mode_model("fake_london")
    assert ours is not None
    renamed = {
        MODERN_BASIS.get(name, name): errors
        for name, errors in reference._local_quantum_errors.items()
    }
    assert ours._local_quantum_errors == renamed
    assert {"sx", "x", "cx"} <= set(ours._local_quantum_errors)
    assert ours._local_readout_errors == reference._local_readout_errors
    assert relaxation(ours) == relaxation(reference)
