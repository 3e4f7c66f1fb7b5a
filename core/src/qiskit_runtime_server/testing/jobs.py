"""Running one job in-process, through the same validation and dispatch as the server."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike
from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder

from ..catalogue import Catalogue
from ..jobs.models import new_id
from ..jobs.submission import prepare_task
from ..plugins import PluginHost
from ..programs.prepared import JobRun
from ..tasks import DEFAULT_SHOTS

if TYPE_CHECKING:
    from qiskit_ibm_runtime.quantum_program import QuantumProgram
    from qiskit_ibm_runtime.results import QuantumProgramResult


def encode_job_body(
    program_id: str,
    backend: str,
    pubs: Sequence[SamplerPubLike | EstimatorPubLike],
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``POST /jobs`` body the client would send, as plain JSON."""
    coerce = SamplerPub.coerce if program_id == "sampler" else EstimatorPub.coerce
    params = {
        "pubs": [coerce(pub) for pub in pubs],
        "options": dict(options or {}),
        "version": 2,
        "support_qiskit": True,
    }
    body = {"program_id": program_id, "backend": backend, "params": params}
    decoded: dict[str, Any] = json.loads(json.dumps(body, cls=RuntimeEncoder))
    return decoded


def run_job(
    plugins: PluginHost,
    program_id: str,
    backend: str,
    pubs: Sequence[SamplerPubLike | EstimatorPubLike],
    options: Mapping[str, Any] | None = None,
) -> PrimitiveResult:
    """Validate and run one job, then round-trip its result through the wire format."""
    body = encode_job_body(program_id, backend, pubs, options)
    prepared = prepare_task(
        program_id,
        backend,
        body["params"],
        job_id=new_id(),
        catalogue=Catalogue(plugins),
        default_shots=DEFAULT_SHOTS,
    )
    if prepared.task is None:
        raise ValueError(f"run_job runs sampler and estimator jobs, not {program_id!r}")
    result = plugins.execute(prepared.task)
    decoded: PrimitiveResult = json.loads(
        json.dumps(result, cls=RuntimeEncoder), cls=RuntimeDecoder
    )
    return decoded


def encode_quantum_program(program: QuantumProgram) -> dict[str, Any]:
    """The ``params`` of the ``executor`` job the client sends for ``program``, as plain JSON
    (the client's own v2.0 converter, with default executor options)."""
    from qiskit_ibm_runtime.options_models.executor import ExecutorOptions
    from qiskit_ibm_runtime.quantum_program.params_converters import (
        QUANTUM_PROGRAM_PARAMS_CONVERTERS,
    )

    model = QUANTUM_PROGRAM_PARAMS_CONVERTERS["v2.0"].encoder(program, ExecutorOptions())
    params: dict[str, Any] = json.loads(json.dumps(model.model_dump(mode="json")))
    return params


def run_quantum_program(
    plugins: PluginHost, backend: str, program: QuantumProgram
) -> QuantumProgramResult:
    """Validate and run one ``executor`` job, then decode its result as the client does
    (without the sampler or estimator post-processing its ``semantic_role`` may ask for)."""
    from qiskit_ibm_runtime.decoders.executor.decoder import ExecutorResultDecoder

    prepared = prepare_task(
        "executor",
        backend,
        encode_quantum_program(program),
        job_id=new_id(),
        catalogue=Catalogue(plugins),
        default_shots=DEFAULT_SHOTS,
    )
    text = prepared.run(JobRun(plugins=plugins, log=lambda _line: None))
    result: QuantumProgramResult = ExecutorResultDecoder.decode(text)
    return result
