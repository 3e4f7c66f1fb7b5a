"""Built-in plugin: every fake device of ``qiskit_ibm_runtime.fake_provider``.

Each description serves the device's own configuration and properties snapshots, brought to
what IBM serves where they fall short (device_documents.py), and hands executors a backend
built from exactly those documents, the way the client builds its own: the client's Target, the
server's ISA check and an executor's noise model all come from the same two documents. An
executor that builds its noise model the way local testing mode does (the aer plugin) gets the
same model as local mode for every device whose documents are served unchanged.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Sequence
from functools import cache, cached_property
from typing import Any

from qiskit.providers import BackendV2
from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2
from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

from ..backend_description import BackendDescription
from ..document_backend import DocumentBackend
from ..hookspecs import hookimpl
from .device_documents import served_documents


class FakeDeviceDescription(BackendDescription):
    """A fake IBM device, read from the snapshot files that ship with qiskit-ibm-runtime."""

    def __init__(self, backend_class: type[FakeBackendV2]) -> None:
        super().__init__(backend_class.backend_name)
        self._class = backend_class
        self._conf: dict[str, Any] | None = None
        self._props: dict[str, Any] | None = None
        self._derived: dict[str, str] = {}
        self._documents_lock = threading.Lock()  # API threads ask for the documents at once

    def _read(self, filename: str | None) -> dict[str, Any] | None:
        if not filename:
            return None
        with open(os.path.join(self._class.dirname, filename), encoding="utf-8") as handle:
            document: dict[str, Any] = json.load(handle)
        document["backend_name"] = self.name
        return document

    def _load(self) -> None:
        with self._documents_lock:
            if self._conf is not None:
                return
            conf = self._read(self._class.conf_filename)
            if conf is None:  # pragma: no cover - every fake device ships a configuration
                raise RuntimeError(f"{self.name} has no configuration snapshot")
            props = self._read(self._class.props_filename)
            self._conf, self._props, self._derived = served_documents(conf, props)

    @cached_property
    def ibm_name(self) -> str | None:
        """The device's own name in its configuration snapshot (``ibm_kyiv``, ``ibmq_manila``,
        ``alt_cairo``); None where the snapshot carries a fake name (``fake_fractional``).
        Read from the configuration file alone, so that building a catalogue stays cheap."""
        filename = self._class.conf_filename
        if not filename:  # pragma: no cover - every fake device ships a configuration
            return None
        with open(os.path.join(self._class.dirname, filename), encoding="utf-8") as handle:
            name = json.load(handle).get("backend_name")
        if not isinstance(name, str) or not name or name.startswith("fake_"):
            return None
        return name

    def configuration(self) -> dict[str, Any]:
        self._load()
        assert self._conf is not None
        return self._conf

    def properties(self) -> dict[str, Any] | None:
        self._load()
        return self._props

    def derived_calibrations(self) -> dict[str, str]:
        self._load()
        return dict(self._derived)

    @property
    def num_qubits(self) -> int:
        return int(self.configuration()["n_qubits"])

    def _build_backend(self) -> BackendV2:
        return DocumentBackend(self.configuration(), self.properties())


@cache
def fake_device_classes() -> tuple[type[FakeBackendV2], ...]:
    """The fake device classes, in the provider's order (instantiated once, then dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return tuple(type(backend) for backend in FakeProviderForBackendV2().backends())


@hookimpl
def qiskit_runtime_backend_descriptions() -> Sequence[BackendDescription]:
    return [FakeDeviceDescription(cls) for cls in fake_device_classes()]
