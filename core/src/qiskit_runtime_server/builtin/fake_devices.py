"""Built-in plugin: every fake device of ``qiskit_ibm_runtime.fake_provider``.

Each description serves the device's own configuration and properties snapshots and hands
executors the fake backend object itself, the same object qiskit-ibm-runtime's local testing
mode simulates, so noise models built from it match local mode.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from functools import cache
from typing import Any

from qiskit.providers import BackendV2
from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2
from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

from ..backend_description import BackendDescription
from ..hookspecs import hookimpl


class FakeDeviceDescription(BackendDescription):
    """A fake IBM device, read from the snapshot files that ship with qiskit-ibm-runtime."""

    def __init__(self, backend_class: type[FakeBackendV2]) -> None:
        super().__init__(backend_class.backend_name)
        self._class = backend_class
        self._conf: dict[str, Any] | None = None
        self._props: dict[str, Any] | None = None

    def _load(self, filename: str | None) -> dict[str, Any] | None:
        if not filename:
            return None
        with open(os.path.join(self._class.dirname, filename), encoding="utf-8") as handle:
            document: dict[str, Any] = json.load(handle)
        document["backend_name"] = self.name
        return document

    def configuration(self) -> dict[str, Any]:
        if self._conf is None:
            conf = self._load(self._class.conf_filename)
            if conf is None:  # pragma: no cover - every fake device ships a configuration
                raise RuntimeError(f"{self.name} has no configuration snapshot")
            self._conf = conf
        return self._conf

    def properties(self) -> dict[str, Any] | None:
        if self._props is None:
            self._props = self._load(self._class.props_filename)
        return self._props

    @property
    def num_qubits(self) -> int:
        return int(self.configuration()["n_qubits"])

    def _build_backend(self) -> BackendV2:
        with warnings.catch_warnings():
            # Some snapshots (fake_nighthawk) warn that their errors are not typical.
            warnings.simplefilter("ignore", UserWarning)
            backend = self._class()
            backend.target  # noqa: B018 - build the target now, while holding the lock
        return backend


@cache
def fake_device_classes() -> tuple[type[FakeBackendV2], ...]:
    """The fake device classes, in the provider's order (instantiated once, then dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return tuple(type(backend) for backend in FakeProviderForBackendV2().backends())


@hookimpl
def qiskit_runtime_backend_descriptions() -> Sequence[BackendDescription]:
    return [FakeDeviceDescription(cls) for cls in fake_device_classes()]
