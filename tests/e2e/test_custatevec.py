"""The custatevec executor through the real client.

On this CPU host its backends are listed but offline, with the reason, and jobs sent to them get
a 4xx. A second server runs it on the NumPy reference kernel (``QRS_CUSTATEVEC_KERNEL=numpy``,
inherited by the worker processes) to show jobs flowing end to end through the same simulator the
GPU runs.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService, SamplerV2
from qiskit_runtime_server.client import client_environment, connect
from qiskit_runtime_server.testing.contract import check_ibm_schema
from qiskit_runtime_server_custatevec.device import probe_gpu
from qrs_test_plugins.processes import ServerProcess

no_gpu = pytest.mark.skipif(probe_gpu().available, reason="this host has a GPU")


def ghz(n: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for qubit in range(n - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


@no_gpu
def test_backends_are_listed_offline_with_the_reason(service: QiskitRuntimeService) -> None:
    backend = service.backend("fake_manila@custatevec")
    status = backend.status()
    assert not status.operational
    assert "CuPy is not importable" in status.status_msg or "CUDA" in status.status_msg


@no_gpu
def test_a_job_sent_to_an_offline_backend_gets_a_4xx(service: QiskitRuntimeService) -> None:
    backend = service.backend("ideal_simulator@custatevec")
    with pytest.raises(Exception, match=r"400|not available") as caught:
        SamplerV2(mode=backend).run([ghz(2)], shots=10).job_id()
    assert "not available" in str(caught.value)


def test_sampler_sweep_and_seed_on_the_reference_kernel(
    numpy_kernel_service: QiskitRuntimeService,
) -> None:
    backend = numpy_kernel_service.backend("ideal_simulator@custatevec")
    assert backend.status().operational
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    angles = np.linspace(0, np.pi, 5)
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = 17
    result = sampler.run([(circuit, angles, 4000)]).result()
    again = sampler.run([(circuit, angles, 4000)]).result()
    for index, angle in enumerate(angles):
        counts = result[0].data.meas[index].get_counts()
        assert set(counts) <= {"00", "11"}
        p11 = np.sin(angle / 2) ** 2
        assert (
            abs(counts.get("11", 0) / 4000 - p11)
            <= 5 * np.sqrt(max(p11 * (1 - p11), 1e-9) / 4000) + 1e-9
        )
        assert counts == again[0].data.meas[index].get_counts()
    simulator = result.metadata["simulator"]
    assert simulator["executor"] == "custatevec"
    assert simulator["kernel"] == "numpy"
    assert "noiseless" in simulator["noise"]


def test_fake_device_runs_with_its_noise_and_says_so(
    numpy_kernel_service: QiskitRuntimeService,
) -> None:
    """Device noise by trajectories through the client (fidelity against Aer's density matrix
    is tests/plugins/custatevec/test_noise.py's): a GHZ state's counts leave 000 and 111."""
    backend = numpy_kernel_service.backend("fake_manila@custatevec")
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1).run(ghz(3))
    sampler = SamplerV2(mode=backend)
    # Seeded: P(000 or 111) is about 0.84 (Aer's density matrix, 200k shots), so 1600 of 2000
    # is only 5.3 sd below the mean of 1687 +- 16.
    sampler.options.simulator.seed_simulator = 8
    job = sampler.run([isa], shots=2000)
    result = job.result()
    counts = result[0].data.meas.get_counts()
    assert counts.get("000", 0) + counts.get("111", 0) > 1600
    assert len(counts) > 2
    assert (
        "device noise of fake_manila by quantum trajectories"
        in result.metadata["simulator"]["noise"]
    )


def test_estimator_on_the_reference_kernel(numpy_kernel_service: QiskitRuntimeService) -> None:
    backend = numpy_kernel_service.backend("ideal_simulator@custatevec")
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(0.7, 2)
    observables = SparsePauliOp(["ZZI", "IXX", "ZII"], [1.0, 0.5, -0.25])
    estimator = EstimatorV2(mode=backend)
    estimator.options.seed_estimator = 3
    result = estimator.run([(circuit, observables)], precision=0.001).result()
    exact = Statevector(circuit).expectation_value(observables).real
    assert abs(float(result[0].data.evs) - exact) < 0.005
    assert float(result[0].data.stds) == pytest.approx(0.001)


def test_degenerate_sweeps_and_ibms_form_on_the_reference_kernel(
    numpy_kernel_service: QiskitRuntimeService,
) -> None:
    """Parameter values of shape (3, 0) give three independent sets of shots (or estimates);
    one observable gives 0-d arrays; both results validate against IBM's schemas (on the
    noiseless ideal simulator, whose exact answers the checks use)."""
    backend = numpy_kernel_service.backend("ideal_simulator@custatevec")
    manager = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1)
    isa = manager.run(ghz(3))
    sampled = SamplerV2(mode=backend).run([(isa, [(), (), ()], 3000)]).result()
    check_ibm_schema(sampled, "sampler")
    bits = sampled[0].data.meas
    assert bits.shape == (3,)
    assert bits.num_shots == 3000
    outcomes = bits.array[..., 0]
    for row in outcomes:
        assert set(np.unique(row).tolist()) == {0, 7}  # noiseless GHZ: 000 or 111
        assert abs(np.mean(row == 7) - 0.5) <= 5 * np.sqrt(0.25 / 3000)
    for first, second in ((0, 1), (0, 2), (1, 2)):
        agreement = np.mean(outcomes[first] == outcomes[second])
        assert abs(agreement - 0.5) <= 5 * np.sqrt(0.25 / 3000), agreement

    unmeasured = manager.run(ghz(3).remove_final_measurements(inplace=False))
    zz = SparsePauliOp("IZZ").apply_layout(unmeasured.layout)
    estimator = EstimatorV2(mode=backend)
    estimator.options.seed_estimator = 2
    result = estimator.run([(unmeasured, zz, None, 0.01),
                            (unmeasured, [[zz]], np.zeros((4, 0)), 0.01)]).result()  # fmt: skip
    check_ibm_schema(result, "estimator")
    for name in ("evs", "stds", "ensemble_standard_error"):
        value = getattr(result[0].data, name)
        assert isinstance(value, np.ndarray)
        assert value.shape == ()
    assert abs(float(result[0].data.evs) - 1.0) <= 5 * 0.01
    evs = result[1].data.evs
    assert evs.shape == (1, 4)
    assert np.all(np.abs(evs - 1.0) <= 5 * 0.01)
    assert len(set(evs.ravel().tolist())) == 4  # four draws, not one copied


def test_client_side_primitives_on_the_reference_kernel(
    numpy_kernel_service: QiskitRuntimeService,
) -> None:
    """The executor program runs on custatevec with no code of its own: on the noiseless ideal
    simulator the twirled client-side Sampler keeps a GHZ state's two outcomes, and the
    client-side Estimator's TREX-mitigated <ZZ> of a Bell pair is 1 within its precision."""
    from qiskit_ibm_runtime.executor_estimator import Estimator
    from qiskit_ibm_runtime.executor_sampler import Sampler

    backend = numpy_kernel_service.backend("ideal_simulator@custatevec")
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1).run(ghz(3))
    sampler = Sampler(mode=backend)
    sampler.options.twirling.enable_gates = True
    sampler.options.twirling.enable_measure = True
    counts = sampler.run([isa], shots=512).result()[0].data.meas.get_counts()
    assert set(counts) == {"000", "111"}, counts
    assert sum(counts.values()) == 512

    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    isa_bell = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1).run(bell)
    observable = SparsePauliOp("ZZ").apply_layout(isa_bell.layout)
    evs = Estimator(mode=backend).run([(isa_bell, observable)], precision=0.05).result()[0].data.evs
    assert abs(float(evs) - 1) < 0.05 * 5


def test_a_normal_shutdown_is_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM to the server's whole process group (``timeout``, systemd's default, a device
    host's runner) after a custatevec job: the server stops its scheduler and workers itself,
    exits, and logs no ERROR line (its children used to die of the signal first, and the
    server reported the scheduler's death as a crash and started another)."""
    server = ServerProcess(
        tmp_path,
        extra_env={"QRS_CUSTATEVEC_KERNEL": "numpy", "QRS_WORKERS": "1"},
        own_process_group=True,
    )
    with server:
        server.wait_ready()
        for name, value in client_environment(server.url).items():
            monkeypatch.setenv(name, value)  # restored after the test; connect() sets them
        backend = connect(server.url).backend("ideal_simulator@custatevec")
        result = SamplerV2(mode=backend).run([ghz(2)], shots=50).result()
        assert set(result[0].data.meas.get_counts()) <= {"00", "11"}
        # Whether a child dies of the signal before the server stops it is a race; that every
        # child ignores it is not.
        assert server.process is not None
        children = psutil.Process(server.process.pid).children(recursive=True)
        assert len(children) >= 2  # the scheduler and the custatevec worker at least
        for child in children:
            ignored = int(_status_field(child.pid, "SigIgn"), 16)
            assert ignored & (1 << (signal.SIGTERM - 1)), child.cmdline()
        server.signal_group(signal.SIGTERM)
        server.process.wait(timeout=60)
    log = server.log.read_text()
    assert "Application shutdown complete" in log
    errors = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
    assert errors == [], log


def _status_field(pid: int, name: str) -> str:
    """A field of ``/proc/<pid>/status`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise KeyError(name)


GPU_STANDINS = Path(__file__).parents[1] / "support" / "gpu_standins"


def _started_on(job: object) -> int:
    """The pid of the worker process a job ran on, from its log."""
    match = re.search(r"job started \(local dispatcher, worker process (\d+)\)", job.logs())  # type: ignore[attr-defined]
    assert match, job.logs()  # type: ignore[attr-defined]
    return int(match[1])


def _long_sweep(
    qubits: int = 14, layers: int = 40, sets: int = 200
) -> tuple[QuantumCircuit, object]:
    """A job that runs for minutes on the stand-in bindings (cancelled before it ends)."""
    theta = Parameter("theta")
    circuit = QuantumCircuit(qubits)
    for layer in range(layers):
        for q in range(qubits):
            circuit.rx(theta * (q + 1), q)
        for q in range(layer % 2, qubits - 1, 2):
            circuit.cx(q, q + 1)
    circuit.measure_all()
    return circuit, np.linspace(0, 1, sets)


@pytest.mark.slow
def test_two_devices_a_worker_each_a_spare_after_a_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU code path with real worker processes, on two stand-in devices
    (tests/support/gpu_standins: CuPy, cuStateVec and NVML stand-ins, QRS_STANDIN_GPUS=2):

    * ``/-/plugins`` reports both devices' memory, through NVML;
    * one worker per device: a job sent while another runs lands on the other device;
    * no cold start after a cancel: with both workers busy, a job sent after one is cancelled
      runs on the spare worker, started before the cancel, on the device the cancelled job's
      worker held.
    """
    python_path = os.pathsep.join([str(GPU_STANDINS), os.environ["PYTHONPATH"]])
    server = ServerProcess(
        tmp_path,
        extra_env={
            "PYTHONPATH": python_path,
            "QRS_STANDIN_GPUS": "2",
            "QRS_WORKERS": "1",
            # The GPU code path, whatever a module fixture of this file set meanwhile.
            "QRS_CUSTATEVEC_KERNEL": "custatevec",
        },
    )
    with server:
        server.wait_ready()
        summary = httpx.get(f"{server.url}/-/plugins", timeout=30).json()
        entry = next(e for e in summary["executors"] if e["name"] == "custatevec")
        assert entry["available"], entry["reason"]
        assert entry["device"] == "GPU"
        assert len(entry["device_memory"]["devices"]) == 2
        # The stand-in NVML sees the API process only (its devices are per process): after
        # probing both devices, that process holds nothing on them.
        assert entry["device_memory"]["used_bytes"] == 0
        assert entry["device_memory"]["free_bytes"] == entry["device_memory"]["total_bytes"] > 0

        for name, value in client_environment(server.url).items():
            monkeypatch.setenv(name, value)
        backend = connect(server.url).backend("ideal_simulator@custatevec")
        sampler = SamplerV2(mode=backend)
        circuit, angles = _long_sweep()
        long_job = sampler.run([(circuit, angles, 10)])
        while long_job.status() != "RUNNING":
            time.sleep(0.2)
        short = sampler.run([ghz(3)], shots=100).result()
        assert short.metadata["simulator"]["device"].startswith("CUDA device 1")
        assert set(short[0].data.meas.get_counts()) == {"000", "111"}

        # Both workers busy: a job after a cancel can only run on the spare.
        other_long_job = sampler.run([(circuit, angles, 10)])
        while other_long_job.status() != "RUNNING":
            time.sleep(0.2)
        before = {p.pid for p in psutil.Process(server.process.pid).children(recursive=True)}  # type: ignore[union-attr]
        long_job.cancel()
        after = sampler.run([ghz(3)], shots=100)
        result = after.result()
        other_long_job.cancel()
        spare = _started_on(after)
        assert spare in before  # started ahead of the cancel, not for this job
        assert spare not in {_started_on(long_job), _started_on(other_long_job)}
        # The device the cancelled job's worker held, free again when that process died.
        assert result.metadata["simulator"]["device"].startswith("CUDA device 0")
        assert long_job.status() == "CANCELLED"
