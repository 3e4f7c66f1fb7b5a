"""The catalogue: every backend description published once per executor.

``fake_manila`` with ``aer`` gives the virtual backend ``fake_manila@aer``. Its documents are the
description's own, renamed, with the device's ``calibration_id``, and encoded to JSON once
(``service.backends()`` fetches every configuration, so serving them must cost nothing).
Unavailable executors stay in the catalogue: their backends report ``state: false`` with the
executor's reason.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .backend_description import BackendDescription
from .plugins import PluginHost, RegisteredExecutor


@dataclass
class VirtualBackend:
    """One published backend: a description run by an executor."""

    name: str
    description: BackendDescription
    executor: RegisteredExecutor
    _encoded: dict[str, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def available(self) -> bool:
        return self.executor.info.availability.available

    @property
    def unavailable_reason(self) -> str | None:
        return self.executor.info.availability.reason

    @property
    def num_qubits(self) -> int:
        return self.description.num_qubits

    @property
    def simulates_noise(self) -> bool:
        return self.executor.info.simulates_noise and self.description.has_noise

    def configuration(self) -> dict[str, Any]:
        info = self.executor.info
        conf = dict(self.description.configuration())
        conf["backend_name"] = self.name
        conf["description"] = (
            f"{conf.get('description') or self.description.name}; simulated by the "
            f"{info.name!r} executor ({info.device}"
            f"{', with device noise' if self.simulates_noise else ', noiseless'})"
        )
        # IBM documents no field for it; the configuration is where every device (the ideal
        # simulator too, which has no properties) can say which calibration it serves.
        conf["calibration_id"] = self.calibration_id
        return conf

    def properties(self) -> dict[str, Any] | None:
        props = self.description.properties()
        if props is None:
            return None
        return {**props, "backend_name": self.name, "calibration_id": self.calibration_id}

    @property
    def calibration_id(self) -> str:
        """The device's one calibration (shared by the device's backends on every executor)."""
        return self.description.calibration_id

    def unknown_calibration(self, calibration_id: str) -> str | None:
        """Why ``calibration_id`` cannot be used with this backend, or None when it can. IBM
        refuses a calibration it does not have; this server has one per device."""
        if calibration_id == self.calibration_id:
            return None
        return (
            f"calibration {calibration_id!r} of backend {self.name} was not found: this server "
            f"keeps one calibration per device, {self.calibration_id!r} (GET "
            f"/api/v1/backends/{self.name}/configuration gives it as 'calibration_id')"
        )

    def encoded(self, document: str) -> bytes:
        """``configuration`` or ``properties`` as JSON bytes, encoded once."""
        with self._lock:
            if document not in self._encoded:
                value = self.configuration() if document == "configuration" else self.properties()
                self._encoded[document] = json.dumps(value or {}).encode()
            return self._encoded[document]


class Catalogue:
    """All virtual backends, in a stable order (descriptions, then executors)."""

    def __init__(self, plugins: PluginHost) -> None:
        self.plugins = plugins
        self._backends: dict[str, VirtualBackend] = {}
        for description in plugins.descriptions.values():
            for executor in plugins.executors.values():
                name = f"{description.name}@{executor.info.name}"
                self._backends[name] = VirtualBackend(name, description, executor)

    def __iter__(self) -> Iterator[VirtualBackend]:
        return iter(self._backends.values())

    def __len__(self) -> int:
        return len(self._backends)

    def get(self, name: str) -> VirtualBackend | None:
        return self._backends.get(name)
