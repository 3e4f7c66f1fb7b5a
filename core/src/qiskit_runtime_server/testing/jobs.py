"""Running one job in-process, through the same validation and dispatch as the server."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike
from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder

from ..catalogue import Catalogue
from ..jobs.models import new_id
from ..jobs.submission import prepare_task
from ..plugins import PluginHost
from ..tasks import DEFAULT_SHOTS


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
