"""The plugin contract: every hook the server calls, in one place.

Plugins implement these with the ``hookimpl`` marker exported by ``qiskit_runtime_server``::

    from qiskit_runtime_server import hookimpl

    @hookimpl
    def qiskit_runtime_executors():
        return [ExecutorInfo(...)]

An executor plugin is found through the entry-point group ``qiskit_runtime.executors``; the
entry point names a module or an object holding the implementations. Hook names start with
``qiskit_runtime_``; a plugin that implements an unknown name (a typo) is reported and not
loaded. Hooks only ever gain arguments, never lose them, so older plugins keep working: an
implementation may declare any subset of a hook's arguments.

Every hook below says when it is called, what it must return, and since which version it exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from qiskit.primitives import PrimitiveResult

    from .backend_description import BackendDescription
    from .device_noise import DeviceNoise, NoiseQuery
    from .executor import ExecutorInfo
    from .tasks import ExecutionTask

PROJECT_NAME = "qiskit_runtime"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    """Describe the executors this plugin provides.

    Called once per process when the plugin manager is built (in the server and in every worker
    process), separately for each plugin, so that a failure is charged to the plugin that raised.
    Return one :class:`~qiskit_runtime_server.ExecutorInfo` per executor (usually one), or an
    empty sequence. Must be cheap and must not fail because of the host: report a missing GPU or
    library through ``ExecutorInfo.availability`` instead of raising.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def qiskit_runtime_backend_descriptions() -> Sequence[BackendDescription]:
    """Contribute device descriptions to the catalogue.

    Called once per process when the catalogue is built. Every description is published once per
    available executor as ``<description name>@<executor name>``. The core's fake devices and
    ideal simulator come from built-in implementations of this hook. Names must be unique across
    plugins and must not contain ``@`` or ``/``.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def qiskit_runtime_validate(task: ExecutionTask) -> None:
    """Check a job's executor-specific inputs (options under ``task.options.raw``, circuit
    features) when it is submitted, so that a mistake gets a 400 instead of a failed job.

    Called in the server process after the core's own checks and before the job is stored,
    restricted to the plugin that declared ``task.executor``; once accepted, a job is not
    validated again in the worker. Raise ``ValueError`` with a message for the user to refuse the
    job; return ``None`` to accept it. Must be cheap: no simulation of the job itself, and any
    probe bounded in time (the aer executor's bond-dimension probe of circuits wider than a
    statevector fits stops after 10 s and leaves the rest to the worker).

    .. versionadded:: 0.2
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult | None:
    """Run one job and return its :class:`~qiskit.primitives.PrimitiveResult`.

    Called once per job, outside the event loop, with the call restricted to the plugin that
    declared ``task.executor`` (a plugin offering several executors dispatches on that name).
    Hook wrappers (``@hookimpl(wrapper=True)``) of every other plugin still run around the call,
    so timing, tracing or audit plugins observe every execution. Stops at the first non-None
    result. Raise an exception to fail the job: its type and message become the job's failure
    reason, so make them actionable.

    Each PUB result's data must have its PUB's shape (parameter values of shape ``(3, 0)``:
    three independent sets of shots) and shots. The server then brings the result to the form
    IBM returns (:func:`qiskit_runtime_server.results.conform`: 0-d arrays, execution spans,
    the metadata keys IBM writes) and fails the job with ExecutorContractError where the data
    does not fit the PUBs.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def qiskit_runtime_device_memory(executor: str) -> Mapping[str, Any] | None:
    """Report the memory of ``executor``'s devices now, for ``/-/plugins`` (and the metrics
    read from it): ``{"used_bytes": int, "free_bytes": int, "total_bytes": int}`` summed over
    the devices, with any further JSON-ready details (a ``devices`` list, say).

    Called in the API process each time the summary is read, restricted to the plugin that
    declared ``executor``. Must be fast and must not allocate device memory or create a device
    context (NVML reads it without one). Return None when there is nothing to report (a CPU
    executor, no device here). An exception is reported as the executor's ``device_memory``
    error, not raised.

    .. versionadded:: 0.4
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def qiskit_runtime_device_noise(query: NoiseQuery) -> DeviceNoise | None:
    """Say what noise the executor would apply to the gates and measurements of ``query``.

    Called by the ``noise-learner`` program, once per job in the worker process, with the call
    restricted to the plugin that declared ``query.executor``, for jobs on a backend whose
    executor simulates noise (``ExecutorInfo.simulates_noise`` and a device with calibration
    data, or a job that sent ``options.simulator.noise_model`` to an executor that honours it).
    Return a :class:`~qiskit_runtime_server.device_noise.DeviceNoise`: for every gate of
    ``query.gates`` the channel applied after it (None: noiseless), for every qubit of
    ``query.measured_qubits`` its readout error, from the same noise model that
    ``qiskit_runtime_execute`` simulates the device with, so that the rates the learner reports
    are the noise the user's later jobs meet. The core twirls the channels and fits the
    Pauli-Lindblad rates itself. Must not simulate circuits.

    A noise-simulating executor without this hook gets a 400 for ``noise-learner`` jobs at
    submission. An answer that leaves a gate out, or whose channel does not fit the gate's
    qubits, fails the job with ExecutorContractError.

    .. versionadded:: 0.3
    """
    raise NotImplementedError
