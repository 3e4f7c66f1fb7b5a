"""Without a GPU the executor loads, says it is unavailable and why; settings are checked."""

from __future__ import annotations

import pytest
from qiskit_runtime_server.catalogue import Catalogue
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server_custatevec.device import Device, Probe, probe_gpu
from qiskit_runtime_server_custatevec.executor import describe
from qiskit_runtime_server_custatevec.settings import Settings, SettingsError

try:
    import cupy  # noqa: F401

    HAS_CUPY = True
except ImportError:
    HAS_CUPY = False

needs_no_gpu = pytest.mark.skipif(
    probe_gpu().available, reason="this host has a usable GPU: the executor is available"
)


@needs_no_gpu
def test_unavailable_without_a_gpu_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QRS_CUSTATEVEC_KERNEL", raising=False)
    info = describe()
    assert info.name == "custatevec"
    assert info.device == "GPU"
    assert info.simulates_noise
    assert not info.availability.available
    reason = info.availability.reason or ""
    if not HAS_CUPY:
        assert "CuPy is not importable" in reason
        assert "qiskit-runtime-server-custatevec[cu12]" in reason


@needs_no_gpu
def test_its_backends_are_listed_offline_and_refuse_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from qiskit import QuantumCircuit
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.jobs.submission import prepare_task
    from qiskit_runtime_server.testing import encode_job_body

    monkeypatch.delenv("QRS_CUSTATEVEC_KERNEL", raising=False)
    catalogue = Catalogue(PluginHost.load())
    backend = catalogue.get("fake_manila@custatevec")
    assert backend is not None
    assert not backend.available
    assert backend.unavailable_reason
    circuit = QuantumCircuit(1)
    circuit.measure_all()
    body = encode_job_body("sampler", "fake_manila@custatevec", [(circuit, None, 10)])
    with pytest.raises(InvalidRequest, match="not available"):
        prepare_task(
            body["program_id"], body["backend"], body["params"],
            job_id="j", catalogue=catalogue, default_shots=100,
        )  # fmt: skip


def test_the_numpy_kernel_makes_it_available_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRS_CUSTATEVEC_KERNEL", "numpy")
    info = describe()
    assert info.availability.available
    assert info.device == "CPU"
    assert "NumPy reference kernel" in info.description
    assert info.max_qubits >= 20


def test_bad_settings_make_it_unavailable_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QRS_CUSTATEVEC_PRECISION", "half")
    info = describe()
    assert not info.availability.available
    assert "QRS_CUSTATEVEC_PRECISION" in (info.availability.reason or "")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("QRS_CUSTATEVEC_KERNEL", "opencl"), ("QRS_CUSTATEVEC_FUSION_MAX_QUBITS", "eleven"),
     ("QRS_CUSTATEVEC_FUSION_MAX_QUBITS", "11"), ("QRS_CUSTATEVEC_MAX_BATCH", "0"),
     ("QRS_CUSTATEVEC_DEVICES", "0,x"), ("QRS_CUSTATEVEC_DEVICES", "1,1"),
     ("QRS_CUSTATEVEC_DEVICE", "0")],
)  # fmt: skip
def test_settings_are_validated(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_environment({variable: value})


@pytest.mark.parametrize(
    ("free_gib", "precision", "qubits"),
    [(80, "double", 32), (80, "single", 33), (24, "double", 30), (24, "single", 31), (1, "double", 1)],
)  # fmt: skip
def test_qubit_limit_from_free_device_memory(free_gib: int, precision: str, qubits: int) -> None:
    settings = Settings(precision=precision)  # type: ignore[arg-type]
    # The device with the least free memory bounds every job: any job may land on it.
    devices = (Device(0, free_bytes=free_gib * 2**30), Device(1, free_bytes=200 * 2**30))
    assert Probe(devices=devices).max_qubits(settings) == qubits


def test_control_flow_is_refused_at_submit(monkeypatch: pytest.MonkeyPatch) -> None:
    from qiskit import QuantumCircuit
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.testing import run_job

    monkeypatch.setenv("QRS_CUSTATEVEC_KERNEL", "numpy")
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(0)
    with pytest.raises(InvalidRequest, match="control flow"):
        run_job(PluginHost.load(), "sampler", "ideal_simulator@custatevec", [(circuit, None, 5)])


@pytest.mark.parametrize(
    "case", ["instruction without a definition", "gate without a matrix", "estimator measures"]
)
def test_what_the_simulator_cannot_run_is_refused_at_submit(
    monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Gate, Instruction
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.testing import run_job

    monkeypatch.setenv("QRS_CUSTATEVEC_KERNEL", "numpy")
    circuit = QuantumCircuit(1, 1)
    if case == "instruction without a definition":
        circuit.append(Instruction("mystery", 1, 0, []), [0])
        circuit.measure(0, 0)
        # The core refuses it for every executor, before custatevec's own check.
        program, pubs, reason = "sampler", [(circuit, None, 5)], "'mystery'.*neither standard"
    elif case == "gate without a matrix":
        circuit.append(Gate("opaque", 1, []), [0])
        circuit.measure(0, 0)
        program, pubs, reason = "sampler", [(circuit, None, 5)], "'opaque'.*neither standard"
    else:
        circuit.h(0)
        circuit.measure(0, 0)
        program, pubs, reason = "estimator", [(circuit, SparsePauliOp("Z"))], "measurements"
    with pytest.raises(InvalidRequest, match=f"PUB 0: .*{reason}"):
        run_job(PluginHost.load(), program, "ideal_simulator@custatevec", pubs)
