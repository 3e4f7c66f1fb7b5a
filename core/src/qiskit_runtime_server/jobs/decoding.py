"""Decoding job parameters that the client encoded with ``RuntimeEncoder``.

The body is parsed once as plain JSON; ``params`` is then decoded bottom-up with
``RuntimeDecoder``'s object hook, which is what ``json.loads(..., cls=RuntimeDecoder)`` does, but
only for the ``__type__`` tags a primitive job can legitimately carry. Anything else is refused
before it reaches a deserialiser.
"""

from __future__ import annotations

import warnings
from typing import Any

from qiskit_ibm_runtime import RuntimeDecoder

from ..errors import InvalidRequest

#: The ``__type__`` tags that may appear in sampler and estimator params.
ALLOWED_TYPES = frozenset(
    {
        "QuantumCircuit",
        "ndarray",
        "complex",
        "set",
        "datetime",
        "Parameter",
        "settings",
        "ObservablesArray",
        "BindingsArray",
        "NoiseModel",
        "to_json",
        # An estimator's resilience.layer_noise_model; _json only for ALLOWED_JSON_CLASSES.
        "NoiseLearnerResult",
        "_json",
    }
)
#: The classes a ``_json`` tag (a class built from its constructor's keywords) may name: the
#: layer noise an estimator's ``resilience.layer_noise_model`` carries. No other class is built.
ALLOWED_JSON_CLASSES = frozenset(
    (module, name)
    for module in (
        "qiskit_ibm_runtime.utils.noise_learner_result",  # before client 0.48
        "qiskit_ibm_runtime.results.noise_learner",
    )
    for name in ("NoiseLearnerResult", "LayerError", "PauliLindbladError")
)

_DECODER = RuntimeDecoder()


def decode_params(params: Any) -> Any:
    """Decode a plain-JSON ``params`` tree into Qiskit objects, or raise InvalidRequest."""
    with warnings.catch_warnings():
        # Newer-QPY and missing-Aer warnings are not the server's to show.
        warnings.simplefilter("ignore")
        return _decode(params, path="params")


def _decode(node: Any, path: str) -> Any:
    if isinstance(node, list):
        return [_decode(item, f"{path}[{index}]") for index, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    decoded = {key: _decode(value, f"{path}.{key}") for key, value in node.items()}
    if "__type__" not in decoded:
        return decoded
    type_tag = decoded["__type__"]
    if not isinstance(type_tag, str) or type_tag not in ALLOWED_TYPES:
        raise InvalidRequest(
            f"{path}: unsupported encoded type {type_tag!r}; encode job inputs with "
            "qiskit_ibm_runtime.RuntimeEncoder"
        )
    if type_tag == "_json":
        named = (decoded.get("__module__"), decoded.get("__class__"))
        if named not in ALLOWED_JSON_CLASSES:
            raise InvalidRequest(
                f"{path}: unsupported encoded class {named[0]}.{named[1]}: a job's params may "
                "carry only layer noise (NoiseLearnerResult, LayerError) as such objects"
            )
    if "__value__" not in decoded:
        raise InvalidRequest(f"{path}: encoded {type_tag} has no __value__")
    try:
        return _DECODER.object_hook(decoded)
    except Exception as exc:
        raise InvalidRequest(
            f"{path}: could not decode {type_tag}: {type(exc).__name__}: {exc}"
        ) from None
