"""The catalogue: every backend description published once per executor.

``fake_manila`` with ``aer`` gives the virtual backend ``fake_manila@aer``. Its documents are the
description's own, renamed, with the device's ``calibration_id``, and encoded to JSON once
(``service.backends()`` fetches every configuration, so serving them must cost nothing).
Unavailable executors stay in the catalogue: their backends report ``state: false`` with the
executor's reason.

Devices that IBM names (``description.ibm_name``: ``ibm_kyiv`` for ``fake_kyiv``) are also
served under that name, on the default executor (``QRS_DEFAULT_EXECUTOR``), so that a program
written for IBM's hardware runs with no edit. The listing starts with them, then the default
executor's virtual backends, then the other executors': ``least_busy()`` picks the first of the
least busy, so a newcomer gets the default executor.

Every backend also has a mock counterpart, as IBM's devices have: ``mock_manila@aer`` for
``fake_manila@aer``, the name the client sends a dry run to (``run(..., dry_run=True)``; see
:func:`dry_run_name`). A mock serves the same documents under its own name and takes the same
jobs, which complete at once with random data instead of running (``jobs/dry_run.py``). Mocks
are listed only when asked for (``GET /backends?include_mocks=true``, which the client sends
to look a name up; ``service.backends()`` still leaves them out).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .backend_description import BackendDescription
from .plugins import PluginHost, RegisteredExecutor

logger = logging.getLogger(__name__)


class Reach:
    """The executors that some scheduler sharing the database runs (the API reads them every
    second): on a Ray cluster, an executor unavailable on the API's host (custatevec on a host
    without a GPU) is available through the cluster's GPU nodes."""

    def __init__(self) -> None:
        self.executors: frozenset[str] = frozenset()
        #: The widest circuit each executor simulates where some scheduler runs it.
        self.max_qubits: dict[str, int] = {}

    def update(self, executors: Iterable[str], max_qubits: dict[str, int] | None = None) -> None:
        # Whole values replaced, never changed in place: readers see old or new.
        self.executors = frozenset(executors)
        self.max_qubits = dict(max_qubits or {})


@dataclass
class VirtualBackend:
    """One published backend: a description run by an executor."""

    name: str
    description: BackendDescription
    executor: RegisteredExecutor
    #: For a mock backend, the name of the backend whose dry runs it takes; None otherwise.
    dry_run_of: str | None = None
    reach: Reach = field(default_factory=Reach, repr=False)
    _encoded: dict[str, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def available(self) -> bool:
        info = self.executor.info
        return info.availability.available or info.name in self.reach.executors

    @property
    def unavailable_reason(self) -> str | None:
        return None if self.available else self.executor.info.availability.reason

    @property
    def max_qubits(self) -> int:
        """The widest circuit its executor simulates where jobs run: as the schedulers that
        run it report (the narrowest of them; a GPU node's custatevec, when this host has no
        GPU), else as this host sees it."""
        info = self.executor.info
        return self.reach.max_qubits.get(info.name, info.max_qubits)

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
        if self.dry_run_of is not None:
            conf["description"] = (
                f"Mock of {self.dry_run_of}, for dry runs: jobs are checked as there and "
                f"complete at once with random data, without running ({conf['description']})"
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


def dry_run_name(name: str) -> str:
    """The backend the client sends a dry run of backend ``name`` to: the name with its part
    before the first ``_`` replaced by ``mock`` (``QiskitRuntimeService._run`` in
    qiskit-ibm-runtime), ``mock_manila@aer`` for ``fake_manila@aer``."""
    return re.sub(r"^[^_]+", "mock", name)


def ibm_names(descriptions: Iterable[BackendDescription]) -> dict[str, BackendDescription]:
    """Each IBM name and its description. A name two descriptions claim is served by neither
    (which one a program means cannot be known), nor is a name that could be mistaken for
    another kind (with ``@`` or ``/``, or a mock's ``mock_`` prefix)."""
    claimants: dict[str, list[BackendDescription]] = defaultdict(list)
    for description in descriptions:
        name = description.ibm_name
        if name and not name.startswith("mock_") and not set(name) & {"@", "/"}:
            claimants[name].append(description)
    names = {}
    for name, (description, *others) in claimants.items():
        if others:
            logger.warning(
                "IBM name %r is not served: descriptions %s all claim it",
                name,
                ", ".join(d.name for d in (description, *others)),
            )
            continue
        names[name] = description
    return names


class Catalogue:
    """All virtual backends, in a stable order (IBM's names, then the default executor's
    backends, then the other executors', each in the order of the descriptions), and their
    mock counterparts for dry runs. Iterating gives the backends without the mocks.

    ``default_executor`` (a served executor's name, or None for no IBM names) is resolved by
    :meth:`PluginHost.default_executor`. A worker process passes its own executor: the jobs it
    takes under an IBM name were accepted for it, whatever the default is when they run.
    """

    def __init__(
        self, plugins: PluginHost, reach: Reach | None = None, default_executor: str | None = None
    ) -> None:
        self.plugins = plugins
        #: Executors run elsewhere (see :class:`Reach`); none by default.
        self.reach = reach or Reach()
        self.default_executor = default_executor
        self._backends: dict[str, VirtualBackend] = {}
        executors = sorted(
            plugins.executors.values(), key=lambda e: e.info.name != default_executor
        )
        if default_executor is not None:
            for name, description in ibm_names(plugins.descriptions.values()).items():
                self._backends[name] = VirtualBackend(
                    name, description, plugins.executors[default_executor], reach=self.reach
                )
        for executor in executors:
            for description in plugins.descriptions.values():
                name = f"{description.name}@{executor.info.name}"
                self._backends[name] = VirtualBackend(name, description, executor, reach=self.reach)
        self._mocks = self._mock_backends()

    def _mock_backends(self) -> dict[str, VirtualBackend]:
        """One mock per backend whose dry-run name is its own: a name that is a backend's
        already, or that two backends share (``a@b_c`` and ``x@y_c`` both give ``mock_c``),
        gets no mock, and the client then says that it found no backend of that name. The
        client sends a dry run on a backend named ``mock_*`` to that backend itself."""
        claimants: dict[str, list[VirtualBackend]] = defaultdict(list)
        for backend in self._backends.values():
            if not backend.name.startswith("mock_"):
                claimants[dry_run_name(backend.name)].append(backend)
        return {
            name: VirtualBackend(
                name, real.description, real.executor, dry_run_of=real.name, reach=self.reach
            )
            for name, (real, *others) in claimants.items()
            if not others and name not in self._backends
        }

    def __iter__(self) -> Iterator[VirtualBackend]:
        return iter(self._backends.values())

    def __len__(self) -> int:
        return len(self._backends)

    def mocks(self) -> Iterator[VirtualBackend]:
        """The mock backends, in the order of the backends they stand for."""
        return iter(self._mocks.values())

    def get(self, name: str) -> VirtualBackend | None:
        """The backend or mock backend of that name."""
        return self._backends.get(name) or self._mocks.get(name)

    def not_found(self, name: str) -> str:
        """Why ``name`` names no backend, for the 404: IBM's message, and where the name
        looks like a virtual backend's, which part of it is unknown."""
        message = f"backend {name!r} was not found; GET /api/v1/backends lists them"
        device, at, executor = name.rpartition("@")
        if not at:
            return message
        if executor not in self.plugins.executors:
            served = ", ".join(self.plugins.executors) or "none"
            return f"{message} (executor {executor!r} is not served here; served: {served})"
        if device not in self.plugins.descriptions:
            return f"{message} (no device is named {device!r})"
        return message
