"""A BackendV2 built from IBM documents alone, for descriptions that have no Python class.

This is how the client itself builds a backend from ``/configuration`` and ``/properties``
(``convert_to_target``), so executors see the same Target a user's client sees.
"""

from __future__ import annotations

import copy
from typing import Any

from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target
from qiskit_ibm_runtime.models import BackendProperties, QasmBackendConfiguration
from qiskit_ibm_runtime.utils.backend_converter import convert_to_target
from qiskit_ibm_runtime.utils.backend_decoder import (
    decode_backend_configuration,
    properties_from_server_data,
)

from .backend_description import BackendDescription


class DocumentBackend(BackendV2):  # type: ignore[misc]  # qiskit ships no type information
    """A read-only BackendV2 (target, configuration, properties); it cannot ``run``."""

    def __init__(self, configuration: dict[str, Any], properties: dict[str, Any] | None) -> None:
        conf = copy.deepcopy(configuration)
        decode_backend_configuration(conf)
        self._configuration = QasmBackendConfiguration.from_dict(conf)
        self._properties: BackendProperties | None = None
        if properties:
            self._properties = properties_from_server_data(
                copy.deepcopy(properties), use_fractional_gates=None
            )
        super().__init__(name=conf["backend_name"], backend_version=conf["backend_version"])
        self._target: Target = convert_to_target(self._configuration, self._properties)

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> None:
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options()

    def configuration(self) -> QasmBackendConfiguration:
        return self._configuration

    def properties(self) -> BackendProperties | None:
        return self._properties

    def run(self, run_input: Any, **options: Any) -> Any:
        raise NotImplementedError(
            f"{self.name} is a description; jobs run through qiskit-runtime-server executors"
        )


class DocumentDescription(BackendDescription):
    """A description given by its two documents (configuration and optional properties)."""

    def __init__(
        self,
        name: str,
        configuration: dict[str, Any],
        properties: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name)
        self._configuration = {**configuration, "backend_name": name}
        self._properties = {**properties, "backend_name": name} if properties else None

    @property
    def num_qubits(self) -> int:
        return int(self._configuration["n_qubits"])

    def configuration(self) -> dict[str, Any]:
        return self._configuration

    def properties(self) -> dict[str, Any] | None:
        return self._properties

    def _build_backend(self) -> BackendV2:
        return DocumentBackend(self._configuration, self._properties)
