"""Backend descriptions: the devices the server can pretend to be.

A description carries the IBM documents of one device (its configuration and, for real
devices, its calibration properties) and can build a :class:`~qiskit.providers.BackendV2`
with its :class:`~qiskit.transpiler.Target`. It knows nothing about simulation: the server
publishes every description once per executor (``fake_manila@aer``), and the executor decides
how to use it (a noise-capable executor builds a noise model from the properties).

Descriptions come from the ``qiskit_runtime_backend_descriptions`` hook; the core registers its
own sources (the fake devices and the ideal simulator) as built-in plugins.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit.providers import BackendV2


class BackendDescription(ABC):
    """One device description. Subclasses must be cheap to construct: documents load lazily."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._backend: BackendV2 | None = None

    @property
    @abstractmethod
    def num_qubits(self) -> int:
        """Number of qubits of the device."""

    @abstractmethod
    def configuration(self) -> dict[str, Any]:
        """The device's configuration document, as IBM serves it (JSON-compatible)."""

    @abstractmethod
    def properties(self) -> dict[str, Any] | None:
        """The calibration properties document, or ``None`` for an ideal device."""

    @abstractmethod
    def _build_backend(self) -> BackendV2:
        """Build the BackendV2 (with its Target) that executors receive."""

    @property
    def simulator(self) -> bool:
        """IBM's ``simulator`` flag: true disables sessions and ISA checks in the client."""
        return bool(self.configuration().get("simulator", False))

    @property
    def has_noise(self) -> bool:
        """Whether the device has calibration data from which noise can be modelled."""
        return self.properties() is not None

    def backend(self) -> BackendV2:
        """The BackendV2 of this device, built once and shared (it is treated as read-only)."""
        with self._lock:
            if self._backend is None:
                self._backend = self._build_backend()
            return self._backend

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
