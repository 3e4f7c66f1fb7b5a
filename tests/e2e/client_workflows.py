"""The key user workflows, driven through whichever ``qiskit-ibm-runtime`` the running Python has.

Run by tests/e2e/test_client_versions.py in a fresh virtual environment holding another client
release: ``python client_workflows.py http://127.0.0.1:PORT``. It imports nothing from the test
tree, only the client, Qiskit and ``qiskit_runtime_server.client``. Every workflow runs on its
own: one that fails is recorded with its error and the others still run. The last line of
stdout is the JSON report, ``{"client": VERSION, "checks": {NAME: {"ok": ..., ...}}}``.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import qiskit_ibm_runtime
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, EstimatorV2, QiskitRuntimeService, SamplerV2, Session
from qiskit_runtime_server.client import connect

REPORT_MARKER = "CLIENT-WORKFLOWS-REPORT "
SHOTS = 4000
#: A Heron device, a pre-2021 device (u1, u2, u3, served in today's basis), a Falcon.
BELL_DEVICES = ("fake_fez@aer", "fake_london@aer", "fake_manila@aer")


def bell(measure: bool = True) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def isa(circuit: QuantumCircuit, backend: Any) -> QuantumCircuit:
    manager = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=7)
    return manager.run(circuit)


def main(url: str) -> dict[str, Any]:
    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, workflow: Callable[[], dict[str, Any]]) -> None:
        try:
            checks[name] = {"ok": True, **workflow()}
        except Exception as exc:
            checks[name] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }

    service: QiskitRuntimeService = connect(url)

    def backends() -> dict[str, Any]:
        return {"count": len(service.backends())}

    check("backends", backends)

    def bell_on(name: str) -> Callable[[], dict[str, Any]]:
        def workflow() -> dict[str, Any]:
            backend = service.backend(name)
            job = SamplerV2(mode=backend).run([isa(bell(), backend)], shots=SHOTS)
            result = job.result()
            return {
                "job_id": job.job_id(),
                "status": str(job.status()),
                "num_shots": int(result[0].data.meas.num_shots),
                "counts": result[0].data.meas.get_counts(),
            }

        return workflow

    for name in BELL_DEVICES:
        check(f"bell:{name}", bell_on(name))

    manila = service.backend("fake_manila@aer")
    isa_bell = isa(bell(), manila)

    def parameter_sets() -> dict[str, Any]:
        result = SamplerV2(mode=manila).run([(isa_bell, [(), (), ()])]).result()
        bits = result[0].data.meas
        return {"type": type(bits).__name__, "shape": list(bits.shape)}

    check("sampler_parameter_sets", parameter_sets)

    def estimator() -> dict[str, Any]:
        circuit = isa(bell(measure=False), manila)
        observable = SparsePauliOp("ZZ").apply_layout(circuit.layout)
        data = EstimatorV2(mode=manila).run([(circuit, observable)]).result()[0].data
        return {
            "evs_type": type(data.evs).__name__,
            "evs_shape": list(np.shape(data.evs)),
            "stds_type": type(data.stds).__name__,
            "stds_shape": list(np.shape(data.stds)),
            "evs": float(data.evs),
        }

    check("estimator_one_observable", estimator)

    def usage() -> dict[str, Any]:
        usage = service.usage()
        return {
            "has_usage_remaining_seconds": "usage_remaining_seconds" in usage,
            "usage_remaining_seconds": usage.get("usage_remaining_seconds"),
        }

    check("usage", usage)

    def unknown_calibration() -> dict[str, Any]:
        try:
            service.backend("fake_manila@aer", calibration_id="no-such-id")
        except Exception as exc:
            return {"raised": True, "error": f"{type(exc).__name__}: {exc}"}
        return {"raised": False}

    check("unknown_calibration_id", unknown_calibration)

    def private_job() -> dict[str, Any]:
        sampler = SamplerV2(mode=manila)
        sampler.options.environment.private = True
        job = sampler.run([isa_bell], shots=100)
        job.wait_for_final_state()
        retrieved = service.job(job.job_id())
        return {
            "status": str(retrieved.status()),
            "private": getattr(retrieved, "private", None),
            "inputs": retrieved.inputs,
        }

    check("private_job", private_job)

    def fractional_gates() -> dict[str, Any]:
        backend = service.backend("fake_fez@aer", use_fractional_gates=True)
        names = set(backend.target.operation_names)
        return {"rzz": "rzz" in names, "rx": "rx" in names}

    check("fractional_gates", fractional_gates)

    def in_mode(mode_class: type[Session] | type[Batch]) -> Callable[[], dict[str, Any]]:
        def workflow() -> dict[str, Any]:
            with mode_class(backend=manila) as mode:
                job = SamplerV2(mode=mode).run([isa_bell], shots=100)
                num_shots = int(job.result()[0].data.meas.num_shots)
                return {
                    "session_id": mode.session_id,
                    "job_session_id": job.session_id,
                    "num_shots": num_shots,
                }

        return workflow

    check("session", in_mode(Session))
    check("batch", in_mode(Batch))

    def executor_program() -> dict[str, Any]:
        from qiskit_ibm_runtime import Executor
        from qiskit_ibm_runtime.quantum_program import QuantumProgram

        program = QuantumProgram(shots=200)
        program.append_circuit_item(isa_bell, circuit_arguments=np.zeros((3, 0)))
        job = Executor(mode=manila).run(program)
        bits = job.result()[0]["meas"]
        inputs = service.job(job.job_id()).inputs
        return {
            "shape": list(bits.shape),
            "dtype": str(bits.dtype),
            "agree": float((bits[..., 0] == bits[..., 1]).mean()),
            "inputs": type(inputs.get("quantum_program")).__name__,
        }

    check("executor_program", executor_program)

    def client_side_sampler() -> dict[str, Any]:
        from qiskit_ibm_runtime.executor_sampler import Sampler

        sampler = Sampler(mode=manila)
        sampler.options.twirling.enable_gates = True
        sampler.options.twirling.enable_measure = True
        result = sampler.run([isa_bell], shots=SHOTS).result()
        return {
            "type": type(result).__name__,
            "num_shots": int(result[0].data.meas.num_shots),
            "counts": result[0].data.meas.get_counts(),
        }

    check("client_side_sampler_twirled", client_side_sampler)

    def client_side_estimator() -> dict[str, Any]:
        from qiskit_ibm_runtime.executor_estimator import Estimator

        circuit = isa(bell(measure=False), manila)
        observables = [SparsePauliOp(p).apply_layout(circuit.layout) for p in ("ZZ", "XX")]
        estimator = Estimator(mode=manila)
        estimator.options.resilience_level = 1
        data = estimator.run([(circuit, observables)], precision=0.02).result()[0].data
        return {"evs": [float(value) for value in data.evs]}

    check("client_side_estimator_trex", client_side_estimator)

    def client_side_estimator_zne() -> dict[str, Any]:
        from qiskit_ibm_runtime.executor_estimator import Estimator

        circuit = isa(bell(measure=False), manila)
        observable = SparsePauliOp("ZZ").apply_layout(circuit.layout)
        estimator = Estimator(mode=manila)
        estimator.options.resilience_level = 2
        data = estimator.run([(circuit, observable)], precision=0.03).result()[0].data
        return {
            "evs": float(data.evs),
            "noise_factors": np.shape(data.evs_noise_factors)[-1],
        }

    check("client_side_estimator_zne", client_side_estimator_zne)

    def noise_learner_v3() -> dict[str, Any]:
        from qiskit import QuantumRegister
        from qiskit_ibm_runtime.noise_learner_v3 import NoiseLearnerV3
        from samplomatic import Twirl

        register = QuantumRegister(manila.num_qubits, "q")
        circuit = QuantumCircuit(register)
        with circuit.box([Twirl()]):
            circuit.cx(register[0], register[1])
        result = NoiseLearnerV3(manila).run([circuit.data[0]]).result()
        model = result.to_pauli_lindblad_maps()[0]
        return {"num_qubits": model.num_qubits, "terms": len(model), "rates": list(model.rates)}

    check("noise_learner_v3", noise_learner_v3)

    def noise_learner_v2() -> dict[str, Any]:
        from qiskit_ibm_runtime.noise_learner import NoiseLearner

        chain = QuantumCircuit(3)
        chain.h(0)
        chain.cx(0, 1)
        chain.cx(1, 2)
        result = NoiseLearner(manila).run([isa(chain, manila)]).result()
        return {
            "layers": len(result.data),
            "max_rate": max(float(np.max(layer.error.rates)) for layer in result.data),
        }

    check("noise_learner_v2", noise_learner_v2)

    return {"client": qiskit_ibm_runtime.__version__, "checks": checks}


if __name__ == "__main__":
    print(REPORT_MARKER + json.dumps(main(sys.argv[1]), default=repr))
