"""Device noise: restricting the model to a job's qubits and instructions changes nothing."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import SamplerV2
from qiskit_runtime_server_aer.noise import NoiseModelCache
from qrs_test_plugins.circuits import fake_device, ghz


@pytest.mark.parametrize("device", ["fake_manila", "fake_kyiv"])
def test_restricted_model_gives_the_same_counts_as_the_full_one(device: str) -> None:
    desc = fake_device(device)
    backend = desc.backend()
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=2).run(
        ghz(3, measure=True)
    )
    cache = NoiseModelCache()
    full = NoiseModel.from_backend_properties(backend.properties(), dt=backend.dt)
    restricted = cache.for_circuits(desc, [isa])
    assert restricted is not None
    assert len(restricted.noise_qubits) <= 3 < len(full.noise_qubits)

    def counts(model: NoiseModel) -> dict[str, int]:
        sampler = SamplerV2.from_backend(AerSimulator(noise_model=model), seed=11)
        data: dict[str, int] = sampler.run([(isa, None, 4000)]).result()[0].data.meas.get_counts()
        return data

    assert counts(restricted) == counts(full)


def test_restrictions_are_cached_per_qubits_and_instructions() -> None:
    desc = fake_device("fake_manila")
    cache = NoiseModelCache()
    a, b = QuantumCircuit(5), QuantumCircuit(5)
    a.sx(0)
    b.sx(1)
    assert cache.for_circuits(desc, [a]) is cache.for_circuits(desc, [a.copy()])
    assert cache.for_circuits(desc, [a]) is not cache.for_circuits(desc, [b])
