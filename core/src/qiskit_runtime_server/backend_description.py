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

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

#: Hex digits of the documents' SHA-256 in a calibration id.
CALIBRATION_DIGEST_LENGTH = 12


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
    def ibm_name(self) -> str | None:
        """The name IBM gives the device this description stands for (``ibm_kyiv`` for
        ``fake_kyiv``), or None. The catalogue also serves the description under that name, on
        the default executor, so that a program written for IBM's hardware runs unchanged."""
        return None

    @property
    def has_noise(self) -> bool:
        """Whether the device has calibration data from which noise can be modelled."""
        return self.properties() is not None

    def derived_calibrations(self) -> dict[str, str]:
        """Instructions whose error model is not the device's own calibration of them, each with
        where it comes from (``{"rzz": "each pair's cz calibration"}``). Results of circuits
        that use them say so in their metadata. None by default."""
        return {}

    @cached_property
    def calibration_id(self) -> str:
        """The id of the device's one calibration snapshot, which clients may pin with
        ``service.backend(name, calibration_id=...)``: see :func:`calibration_id_of`. Computed
        once, like the documents it is made of (a description is a snapshot)."""
        return calibration_id_of(self.configuration(), self.properties())

    def backend(self) -> BackendV2:
        """The BackendV2 of this device, built once and shared (it is treated as read-only)."""
        with self._lock:
            if self._backend is None:
                self._backend = self._build_backend()
            return self._backend

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def calibration_id_of(configuration: dict[str, Any], properties: dict[str, Any] | None) -> str:
    """A stable id for the calibration snapshot made of these documents.

    A ``calibration_id`` the documents carry themselves (a description serving real IBM
    snapshots) is kept. Otherwise the id is the snapshot's date in UTC, then the first
    ``CALIBRATION_DIGEST_LENGTH`` hex digits of the SHA-256 of both documents as canonical JSON:
    ``20240527T182723Z-834a7525bd8f``. The date is the properties' ``last_update_date``, or, for
    a device without properties (the ideal simulator), its configuration's ``online_date``;
    ``undated`` when there is neither. The same documents give the same id on every server and
    after every restart; another snapshot gives another id.
    """
    for document in (properties, configuration):
        own = (document or {}).get("calibration_id")
        if isinstance(own, str) and own:
            return own
    date = properties.get("last_update_date") if properties else configuration.get("online_date")
    canonical = json.dumps(
        {"configuration": configuration, "properties": properties},
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:CALIBRATION_DIGEST_LENGTH]
    return f"{_utc_stamp(date)}-{digest}"


def _utc_stamp(value: Any) -> str:
    """``2021-03-15T00:40:24-04:00`` as ``20210315T044024Z`` (naive times are taken as UTC)."""
    if not isinstance(value, str):
        return "undated"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "undated"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
