"""Noise models: the device's, built once per backend from its calibration properties, or the
user's own (``options.simulator.noise_model``)."""

from __future__ import annotations

import threading
from typing import Any

from qiskit_aer.noise import NoiseModel
from qiskit_runtime_server import BackendDescription


class NoiseModelCache:
    """Device noise models, keyed by description name (descriptions are immutable)."""

    def __init__(self) -> None:
        self._models: dict[str, NoiseModel | None] = {}
        self._lock = threading.Lock()

    def device_noise(self, description: BackendDescription) -> NoiseModel | None:
        """The device's noise model, the way qiskit-ibm-runtime's local mode builds it."""
        with self._lock:
            if description.name not in self._models:
                self._models[description.name] = _build(description)
            return self._models[description.name]

    def __len__(self) -> int:
        return len(self._models)


def _build(description: BackendDescription) -> NoiseModel | None:
    if not description.has_noise:
        return None
    backend = description.backend()
    properties = backend.properties()
    if properties is None:
        return None
    return NoiseModel.from_backend_properties(properties, dt=getattr(backend, "dt", None))


def user_noise_model(value: Any) -> NoiseModel:
    """``options.simulator.noise_model`` as sent: a decoded NoiseModel, or its dict form."""
    if isinstance(value, NoiseModel):
        return value
    if isinstance(value, dict):
        try:
            return NoiseModel.from_dict(value)
        except Exception as exc:
            raise ValueError(
                f"options.simulator.noise_model is not a valid noise model: {exc}"
            ) from None
    raise ValueError(
        f"options.simulator.noise_model must be a qiskit_aer NoiseModel, got {type(value).__name__}"
    )
