"""Every fake device runs, the way a user runs it, on every executor that can run here.

For each device of the catalogue: the client's ``service.backend(...)``, the preset pass manager
on that backend, a SamplerV2 job through a real server. A Bell pair (an X on the one-qubit
device) on the device's first coupled pair of qubits:

- ``@aer`` simulates the device's noise: its counts must be those of qiskit-ibm-runtime's local
  testing mode on the same device and qubits (a two-sample chi-square test, p > 1e-4, 4000 shots
  each, seeded, so the outcome is reproducible), and noise must be visible (a Bell pair gives
  some ``01`` and ``10``).
- ``@custatevec`` (on its NumPy reference kernel) simulates the same device noise by quantum
  trajectories: the same chi-square test against local testing mode.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_runtime_server.builtin.fake_devices import fake_device_classes
from qrs_test_plugins.circuits import ghz
from qrs_test_plugins.numpy_kernel import custatevec_on_numpy
from scipy.stats import chi2_contingency

pytestmark = pytest.mark.slow

SHOTS = 4000
SEED = 1234
DEVICES = [device.backend_name for device in fake_device_classes()]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QiskitRuntimeService]:
    with custatevec_on_numpy(tmp_path_factory.mktemp("every-device"), workers=2) as service:
        yield service


def test_the_catalogue_has_every_device_on_each_executor(service: QiskitRuntimeService) -> None:
    names = {backend.name for backend in service.backends()}
    for executor in ("aer", "custatevec"):
        assert {f"{device}@{executor}" for device in DEVICES} <= names
    assert len(DEVICES) == 68


def pair_circuit(num_qubits: int) -> QuantumCircuit:
    """A Bell pair, or an X on a one-qubit device."""
    if num_qubits > 1:
        return ghz(2, measure=True)
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    return circuit


def isa_circuit(backend: BackendV2) -> QuantumCircuit:
    """The circuit transpiled for ``backend`` on its first coupled pair of qubits (the same
    physical qubits for the server's backend and local mode's)."""
    circuit = pair_circuit(backend.num_qubits)
    layout = [0] if backend.num_qubits == 1 else list(min(backend.coupling_map.get_edges()))
    return generate_preset_pass_manager(
        optimization_level=1, backend=backend, initial_layout=layout, seed_transpiler=SEED
    ).run(circuit)


def counts_vector(counts: dict[str, int], width: int) -> np.ndarray:
    return np.array([counts.get(format(i, f"0{width}b"), 0) for i in range(2**width)])


def server_counts(service: QiskitRuntimeService, name: str) -> tuple[dict[str, int], int]:
    backend = service.backend(name)
    isa = isa_circuit(backend)
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = SEED
    result = sampler.run([isa], shots=SHOTS).result()
    counts: dict[str, int] = result[0].data.meas.get_counts()
    assert result[0].data.meas.num_shots == SHOTS
    return counts, min(backend.num_qubits, 2)


@functools.cache
def local_mode_counts(device: str) -> dict[str, int]:
    """The same circuit on the same qubits in qiskit-ibm-runtime's local testing mode."""
    cls = next(c for c in fake_device_classes() if c.backend_name == device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not intended to represent typical..."
        backend = cls()
    isa = isa_circuit(backend)
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = SEED + 1  # independent of the server's run
    counts: dict[str, int] = sampler.run([isa], shots=SHOTS).result()[0].data.meas.get_counts()
    return counts


@pytest.mark.parametrize("executor", ["aer", "custatevec"])
@pytest.mark.parametrize("device", DEVICES)
def test_noisy_device_matches_local_testing_mode(
    service: QiskitRuntimeService, device: str, executor: str
) -> None:
    ours, width = server_counts(service, f"{device}@{executor}")
    local = local_mode_counts(device)
    table = np.array([counts_vector(ours, width), counts_vector(local, width)])
    table = table[:, table.sum(axis=0) > 0]  # outcomes neither run saw carry no information
    p_value = chi2_contingency(table).pvalue
    assert p_value > 1e-4, (ours, local, p_value)
    wrong = sum(n for key, n in ours.items() if key not in ({"1"} if width == 1 else {"00", "11"}))
    assert wrong > 0, f"no noise visible on {device}@{executor}: {ours}"
