"""The catalogue: every backend description published once per executor.

``fake_manila`` with ``aer`` gives the virtual backend ``fake_manila@aer``. Its documents are the
description's own, renamed, and encoded to JSON once (``service.backends()`` fetches every
configuration, so serving them must cost nothing). Unavailable executors stay in the catalogue:
their backends report ``state: false`` with the executor's reason.
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
        return conf

    def properties(self) -> dict[str, Any] | None:
        props = self.description.properties()
        if props is None:
            return None
        return {**props, "backend_name": self.name}

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
