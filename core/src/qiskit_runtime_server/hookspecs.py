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

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from qiskit.primitives import PrimitiveResult

    from .backend_description import BackendDescription
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
    job; return ``None`` to accept it. Must be cheap: no simulation.

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
