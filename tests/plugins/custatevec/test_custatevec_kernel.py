"""The cuStateVec kernel's calls, checked on CPU through the stand-in binding module.

The stand-in (tests/support/standin_custatevec.py) has the real binding's signatures, recorded
from the cuquantum-python 26.9.0 wheel (data/custatevec_26.9.0.txt), checks the arguments and
does each documented operation on the memory the raw pointers address. The kernel must then give
the NumPy reference kernel's numbers: wrong target orders, layouts, strides, pointer offsets or
bit orders would not. What only a GPU can show (the real library's numerics, streams, memory) is
the self-check's job (plugins/custatevec/README.md).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import standin_custatevec as standin
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.random import random_circuit
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import Operator
from qiskit_runtime_server_custatevec.custatevec_kernel import (
    CUDA_C_32F,
    CUDA_C_64F,
    CuStateVecKernel,
)
from qiskit_runtime_server_custatevec.numpy_kernel import NumpyKernel
from qiskit_runtime_server_custatevec.primitives import StatevectorPrimitives
from qiskit_runtime_server_custatevec.settings import Settings

RECORDED = Path(__file__).parent / "data" / "custatevec_26.9.0.txt"


def recorded() -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    signatures: dict[str, list[str]] = {}
    enums: dict[str, dict[str, int]] = {}
    for line in RECORDED.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("enum "):
            _, name, *members = line.split()
            enums[name] = {m.split("=")[0]: int(m.split("=")[1]) for m in members}
            continue
        match = re.fullmatch(r"(\w+)\((.*)\)", line)
        assert match, line
        signatures[match[1]] = [p.strip() for p in match[2].split(",") if p.strip()]
    return signatures, enums


class Recording:
    """The stand-in module, recording which functions the kernel calls."""

    def __init__(self) -> None:
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        value = getattr(standin, name)
        if inspect.isfunction(value):
            self.called.add(name)
        return value


def kernel(precision: str = "double", bindings: Any = standin, device: int = 0) -> CuStateVecKernel:
    return CuStateVecKernel(
        bindings=bindings, cupy=standin.cupy, precision=precision, device=device
    )


def test_the_standin_has_the_real_signatures_and_enum_values() -> None:
    signatures, enums = recorded()
    for name, params in signatures.items():
        if hasattr(standin, name):
            assert list(inspect.signature(getattr(standin, name)).parameters) == params, name
    for enum_name, members in enums.items():
        if enum_name == "cudaDataType":
            assert (members["CUDA_C_32F"], members["CUDA_C_64F"]) == (CUDA_C_32F, CUDA_C_64F)
            continue
        assert {m.name: m.value for m in getattr(standin, enum_name)} == members


def test_the_recording_matches_the_installed_binding_when_there_is_one() -> None:
    real = pytest.importorskip(
        "cuquantum.bindings.custatevec", reason="cuquantum-python is not installed here"
    )
    signatures, enums = recorded()
    for name, params in signatures.items():
        assert list(inspect.signature(getattr(real, name)).parameters) == params, name
    for enum_name, members in enums.items():
        if enum_name != "cudaDataType":
            assert {m: int(getattr(getattr(real, enum_name), m)) for m in members} == members


def test_every_call_the_kernel_makes_is_a_recorded_function() -> None:
    signatures, _ = recorded()
    recording = Recording()
    gpu = kernel(bindings=recording)
    states = gpu.zeros(3, 2)
    gpu.apply_matrix(states, [0], Operator.from_label("H").data[None])
    gpu.apply_matrix(states, [1, 0], np.stack([np.eye(4), Operator.from_label("XY").data]))
    gpu.probabilities(states, 1, [0, 2])
    gpu.collapse(states, 1, [0], 0, 0.5)
    gpu.sample(states, 0, [0, 1], np.array([0.1, 0.9]))
    gpu.pauli_expectations(states, 0, [("XZ", [0, 2])])
    gpu.close()
    assert recording.called
    assert recording.called <= set(signatures), recording.called - set(signatures)
    assert not standin.REGISTRY.samplers, "every sampler must be destroyed"


def _random_gates(num_qubits: int, seed: int) -> list[tuple[list[int], np.ndarray]]:
    circuit = random_circuit(num_qubits, 6, max_operands=3, seed=seed)
    return [
        ([circuit.find_bit(q).index for q in ins.qubits], Operator(ins.operation).data)
        for ins in circuit.data
    ]


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("num_qubits", [1, 3, 4, 6])
def test_gates_single_and_batched_match_the_reference_kernel(
    precision: str, num_qubits: int
) -> None:
    gpu, reference = kernel(precision), NumpyKernel(gpu_dtype := np.dtype(
        np.complex128 if precision == "double" else np.complex64).type)  # fmt: skip
    assert gpu.dtype == gpu_dtype
    standin.REGISTRY.calls.clear()
    rng = np.random.default_rng(num_qubits)
    for size in (1, 3):
        on_gpu, on_cpu = gpu.zeros(num_qubits, size), reference.zeros(num_qubits, size)
        for targets, matrix in _random_gates(num_qubits, seed=num_qubits + size):
            stack = matrix[None]
            if size > 1 and rng.random() < 0.5:  # one matrix per statevector
                phases = np.exp(1j * rng.uniform(0, 6, size))
                stack = np.stack([matrix * phase for phase in phases])
            gpu.apply_matrix(on_gpu, targets, stack)
            reference.apply_matrix(on_cpu, targets, stack)
        tolerance = 1e-12 if precision == "double" else 2e-6
        np.testing.assert_allclose(gpu.to_host(on_gpu), reference.to_host(on_cpu), atol=tolerance)
    calls = " ".join(standin.REGISTRY.calls)
    if 2**num_qubits * gpu_dtype(0).itemsize >= 128:
        assert "apply_matrix_batched:BROADCAST" in calls
        assert "apply_matrix_batched:MATRIX_INDEXED" in calls
    else:  # statevectors under 128 bytes would not be aligned in a batch: one call each
        assert "apply_matrix_batched" not in calls


def test_measurement_calls_match_the_reference_kernel() -> None:
    gpu, reference = kernel(), NumpyKernel()
    on_gpu, on_cpu = gpu.zeros(5, 2), reference.zeros(5, 2)
    for targets, matrix in _random_gates(5, seed=11):
        gpu.apply_matrix(on_gpu, targets, matrix[None])
        reference.apply_matrix(on_cpu, targets, matrix[None])
    for member in (0, 1):
        for qubits in ([0], [3, 1], [4, 0, 2]):
            np.testing.assert_allclose(
                gpu.probabilities(on_gpu, member, qubits),
                reference.probabilities(on_cpu, member, qubits),
                atol=1e-12,
            )
    randnums = np.random.default_rng(3).random(500)
    # Sampling is defined on the full index, so the same numbers give the same outcomes.
    np.testing.assert_array_equal(
        gpu.sample(on_gpu, 1, [2, 0, 4], randnums), reference.sample(on_cpu, 1, [2, 0, 4], randnums)
    )
    terms = [("Z", [0]), ("XY", [1, 3]), ("ZZXY", [4, 0, 2, 1]), ("", [])]
    np.testing.assert_allclose(
        gpu.pauli_expectations(on_gpu, 1, terms),
        reference.pauli_expectations(on_cpu, 1, terms),
        atol=1e-12,
    )
    p = reference.probabilities(on_cpu, 1, [3, 1])
    outcome = int(np.argmax(p))
    gpu.collapse(on_gpu, 1, [3, 1], outcome, float(p[outcome]))
    reference.collapse(on_cpu, 1, [3, 1], outcome, float(p[outcome]))
    np.testing.assert_allclose(gpu.to_host(on_gpu), reference.to_host(on_cpu), atol=1e-12)


def test_whole_jobs_give_identical_samples_on_both_kernels() -> None:
    """A sweep with a mid-circuit measurement and a reset: the same seed, the same shots."""
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(4, 4)
    circuit.ry(a, 0)
    circuit.cx(0, 1)
    circuit.rx(b, 2)
    circuit.measure(1, 3)
    circuit.reset(1)
    circuit.h(1)
    circuit.cz(1, 2)
    circuit.measure([0, 1, 2], [0, 1, 2])
    values = np.array([[0.3, 1.2], [2.0, 0.1], [1.5, 2.9]])
    pub = SamplerPub.coerce((circuit, values, 300))
    settings = Settings(kernel="numpy", fusion_threshold=0)
    counts = []
    for k in (kernel(), NumpyKernel()):
        result = StatevectorPrimitives(k, settings).sample(pub, np.random.default_rng(7))
        counts.append([result.data.c[i].get_counts() for i in range(3)])
    assert counts[0] == counts[1]


def test_whole_static_sweeps_use_batched_calls_and_agree() -> None:
    theta, phi = Parameter("θ"), Parameter("φ")
    circuit = QuantumCircuit(5)
    circuit.h(range(5))
    for q in range(4):
        circuit.rzz(theta, q, q + 1)
        circuit.ry(phi * q, q)
    circuit.measure_all()
    values = np.random.default_rng(4).uniform(-3, 3, (6, 2))
    pub = SamplerPub.coerce((circuit, values, 400))
    settings = Settings(kernel="numpy", fusion_threshold=0, fusion_max_qubits=3)
    standin.REGISTRY.calls.clear()
    counts = []
    for k in (kernel(), NumpyKernel()):
        result = StatevectorPrimitives(k, settings).sample(pub, np.random.default_rng(11))
        counts.append([result.data.meas[i].get_counts() for i in range(6)])
    assert counts[0] == counts[1]
    assert "apply_matrix_batched:MATRIX_INDEXED" in " ".join(standin.REGISTRY.calls)


def test_the_configured_device_is_current_before_memory_is_touched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(standin.MEMORY, "device_count", 3)
    standin.REGISTRY.device = 0
    gpu = kernel(device=2)
    assert standin.REGISTRY.device == 2
    gpu.zeros(2, 1)
    assert standin.REGISTRY.handles[gpu.handle]["device"] == 2
