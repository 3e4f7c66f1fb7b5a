"""Finding, checking and calling plugins.

Discovery loops over the ``qiskit_runtime.executors`` entry points itself (pluggy's loader has
no guard), so a plugin that fails to import, implements an unknown hook, or returns something
that breaks the contract is reported with its name, distribution and error, and the server
starts with the others. Built-in plugins go through the same registration path.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import logging
import numbers
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pluggy
from qiskit.primitives import PrimitiveResult

from . import hookspecs
from .backend_description import BackendDescription
from .builtin import BUILTIN_PLUGINS
from .device_noise import DeviceNoise, NoiseQuery
from .errors import ConfigurationError, ExecutorContractError
from .executor import ExecutorInfo
from .results import conform, with_derived_calibrations
from .settings import Settings
from .tasks import ExecutionTask

ENTRY_POINT_GROUP = "qiskit_runtime.executors"
HOOK_PREFIX = "qiskit_runtime_"

logger = logging.getLogger(__name__)

PluginStatus = Literal["loaded", "failed", "disabled"]


@dataclass
class PluginRecord:
    """What the server knows about one plugin, for ``qiskit-runtime-server plugins``."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    status: PluginStatus = "loaded"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    executors: list[str] = field(default_factory=list)
    descriptions: int = 0

    def label(self) -> str:
        if self.distribution:
            return f"plugin {self.name!r} ({self.distribution} {self.version})"
        return f"plugin {self.name!r}"


@dataclass(frozen=True)
class RegisteredExecutor:
    """An executor and the plugin that declared it."""

    info: ExecutorInfo
    plugin: PluginRecord
    plugin_object: object
    #: The hooks the plugin implements (not only wraps), as pluggy registered them.
    hooks: frozenset[str] = frozenset()

    def implements(self, hook_name: str) -> bool:
        """Whether the executor's plugin implements ``hook_name`` (hooks added after 0.1 are
        optional: the server refuses the jobs that need a missing one at submission). Asks
        what pluggy registered, so that ``@hookimpl(specname=...)`` counts under the hook's
        name, and an attribute that merely has the name does not."""
        return hook_name in self.hooks


class PluginHost:
    """The plugin manager of one process, with typed entry points into its hooks."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self.executors: dict[str, RegisteredExecutor] = {}
        self.descriptions: dict[str, BackendDescription] = {}
        #: Executors loaded but not served, each with why (see :meth:`serve_only`).
        self.unserved: dict[str, str] = {}
        self._callers: dict[str, Any] = {}

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        *,
        entry_points: bool = True,
        disabled: Iterable[str] = (),
        plugin_paths: Sequence[str] = (),
        extra_plugins: Sequence[tuple[str, object]] = (),
    ) -> PluginHost:
        """Build the plugin manager: built-ins, entry points, ``plugin_paths``, then
        ``extra_plugins``.

        ``plugin_paths`` are import paths (``package.module`` or ``package.module:object``),
        loaded in the server and in every worker process, like entry points. ``extra_plugins``
        registers plugin objects in this process only (in-process uses such as
        ``testing.run_job``; worker processes do not see them).
        """
        host = cls()
        disabled = set(disabled)
        for name, module in BUILTIN_PLUGINS.items():
            host.add_plugin(PluginRecord(name, None, None, builtin=True), module)
        if entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = ep.dist
                record = PluginRecord(
                    ep.name,
                    dist.name if dist else None,
                    dist.version if dist else None,
                    builtin=False,
                )
                if ep.name in disabled:
                    record.status = "disabled"
                    host.records.append(record)
                    continue
                try:
                    plugin = ep.load()
                except BaseException as exc:
                    host._fail(record, f"failed to import {ep.value}: {_describe(exc)}")
                    continue
                host.add_plugin(record, plugin)
        for path in plugin_paths:
            record = PluginRecord(path, None, None, builtin=False)
            try:
                plugin = _import(path)
            except BaseException as exc:
                host._fail(record, f"failed to import {path}: {_describe(exc)}")
                continue
            host.add_plugin(record, plugin)
        for name, plugin in extra_plugins:
            host.add_plugin(PluginRecord(name, None, None, builtin=False), plugin)
        return host

    @classmethod
    def from_settings(cls, settings: Settings) -> PluginHost:
        """The plugins the server (and each of its worker processes) loads."""
        host = cls.load(
            entry_points=settings.load_entry_points,
            disabled=settings.disabled_plugins,
            plugin_paths=settings.plugins,
        )
        host.serve_only(settings.executors)
        return host

    def serve_only(self, names: Sequence[str]) -> None:
        """Keep the executors named (``QRS_EXECUTORS``), or with none named, every executor
        that is not opt-in; the others stay loaded but are not served (``unserved`` says why).

        Raises ConfigurationError for a name that no loaded plugin declares.
        """
        unknown = [name for name in names if name not in self.executors]
        if unknown:
            raise ConfigurationError(
                f"QRS_EXECUTORS names {', '.join(map(repr, unknown))}, which is not installed; "
                f"installed executors: {self._installed()}"
            )
        for name, executor in list(self.executors.items()):
            if names and name not in names:
                self.unserved[name] = "not named in QRS_EXECUTORS"
            elif not names and executor.info.opt_in:
                self.unserved[name] = "opt-in: served when named in QRS_EXECUTORS"
            else:
                continue
            del self.executors[name]

    def default_executor(self, requested: str | None) -> str | None:
        """The executor behind IBM's device names: ``requested`` (``QRS_DEFAULT_EXECUTOR``),
        else ``aer`` where it is served, else None (IBM's names are then not served).

        Raises ConfigurationError when ``requested`` is not served here.
        """
        if requested is None:
            return "aer" if "aer" in self.executors else None
        if requested not in self.executors:
            why = self.unserved.get(requested, "not installed")
            raise ConfigurationError(
                f"QRS_DEFAULT_EXECUTOR is {requested!r}, which is not served ({why}); "
                f"installed executors: {self._installed()}"
            )
        return requested

    def _installed(self) -> str:
        unserved = (f"{name} (not served: {why})" for name, why in self.unserved.items())
        return (
            ", ".join([*self.executors, *unserved])
            or "none (pip install qiskit-runtime-server-aer)"
        )

    def add_plugin(self, record: PluginRecord, plugin: object) -> bool:
        """Register one plugin and collect its executors and descriptions; False if it failed."""
        problem = self._check_hook_names(plugin)
        if problem:
            return self._fail(record, problem)
        try:
            self.pm.register(plugin, name=record.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            return self._fail(record, _describe(exc))
        callers = self.pm.get_hookcallers(plugin) or []
        record.hooks = sorted(caller.name for caller in callers)
        implemented = frozenset(
            caller.name
            for caller in callers
            if any(
                impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper)
                for impl in caller.get_hookimpls()
            )
        )
        try:
            executors = self._collect_executors(plugin)
            descriptions = self._collect_descriptions(plugin)
        except ExecutorContractError as exc:
            self.pm.unregister(plugin)
            return self._fail(record, str(exc))
        except Exception as exc:
            self.pm.unregister(plugin)
            return self._fail(record, f"a hook raised {_describe(exc)}")
        for info in executors:
            self.executors[info.name] = RegisteredExecutor(info, record, plugin, hooks=implemented)
            record.executors.append(info.name)
        for description in descriptions:
            self.descriptions[description.name] = description
        record.descriptions = len(descriptions)
        self.records.append(record)
        return True

    def _fail(self, record: PluginRecord, error: str) -> bool:
        record.status = "failed"
        record.error = error
        self.records.append(record)
        logger.error("%s was not loaded: %s", record.label(), error)
        return False

    def _check_hook_names(self, plugin: object) -> str | None:
        known = {name for name in dir(hookspecs) if name.startswith(HOOK_PREFIX)}
        for attr in dir(plugin):
            if not attr.startswith(HOOK_PREFIX):
                continue
            if attr not in known:
                return f"unknown hook {attr!r}; known hooks are {', '.join(sorted(known))}"
            if self.pm.parse_hookimpl_opts(plugin, attr) is None:
                return f"{attr!r} is not marked with @qiskit_runtime_server.hookimpl"
        return None

    def _own_results(self, hook_name: str, plugin: object) -> list[Any]:
        """Call one plugin's implementation of a no-argument broadcast hook."""
        hook = getattr(self.pm.hook, hook_name)
        results: list[Any] = []
        for impl in hook.get_hookimpls():
            if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper):
                returned = impl.function()
                if returned is not None:
                    results.extend(returned)
        return results

    def _collect_executors(self, plugin: object) -> list[ExecutorInfo]:
        infos = self._own_results("qiskit_runtime_executors", plugin)
        for info in infos:
            if not isinstance(info, ExecutorInfo):
                raise ExecutorContractError(
                    f"qiskit_runtime_executors returned {info!r}, which is not an ExecutorInfo"
                )
            if info.name in self.executors:
                owner = self.executors[info.name].plugin
                raise ExecutorContractError(
                    f"executor name {info.name!r} is already registered by {owner.label()}; "
                    f"disable one with QRS_DISABLED_PLUGINS"
                )
        names = [info.name for info in infos]
        if len(set(names)) != len(names):
            raise ExecutorContractError(f"executor names repeat: {names}")
        return infos

    def _collect_descriptions(self, plugin: object) -> list[BackendDescription]:
        descriptions = self._own_results("qiskit_runtime_backend_descriptions", plugin)
        seen: set[str] = set()
        for description in descriptions:
            if not isinstance(description, BackendDescription):
                raise ExecutorContractError(
                    f"qiskit_runtime_backend_descriptions returned {description!r}, "
                    "which is not a BackendDescription"
                )
            name = description.name
            if not name or "@" in name or "/" in name:
                raise ExecutorContractError(f"description name {name!r} is empty or has '@'/'/'")
            if name in self.descriptions or name in seen:
                raise ExecutorContractError(f"description name {name!r} is already taken")
            seen.add(name)
        return descriptions

    def summary(self) -> dict[str, Any]:
        """Plugins and executors as JSON-ready data (CLI ``plugins --json``, ``/-/plugins``)."""
        return {
            "plugins": [dataclasses.asdict(record) for record in self.records],
            "executors": [
                {
                    "name": ex.info.name,
                    "version": ex.info.version,
                    "device": ex.info.device,
                    "programs": sorted(ex.info.programs),
                    "simulates_noise": ex.info.simulates_noise,
                    "max_qubits": ex.info.max_qubits,
                    "available": ex.info.availability.available,
                    "reason": ex.info.availability.reason,
                    "honoured_options": sorted(ex.info.honoured_options),
                    "plugin": ex.plugin.name,
                    "description": ex.info.description,
                    "device_memory": self.device_memory(ex.info.name),
                }
                for ex in self.executors.values()
            ],
            "unserved_executors": dict(self.unserved),
        }

    # -- execution -----------------------------------------------------------------------------

    def _own_caller(self, hook_name: str, executor: str) -> Any:
        """``hook_name`` restricted to the plugin of ``executor`` (wrappers of others kept)."""
        key = f"{hook_name}:{executor}"
        caller = self._callers.get(key)
        if caller is None:
            registered = self.executors[executor]
            hook = getattr(self.pm.hook, hook_name)
            others = [
                impl.plugin
                for impl in hook.get_hookimpls()
                if impl.plugin is not registered.plugin_object
                and not (impl.hookwrapper or impl.wrapper)
            ]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
            self._callers[key] = caller
        return caller

    def device_memory(self, executor: str) -> Any:
        """``qiskit_runtime_device_memory`` of ``executor``'s plugin: its devices' memory now,
        None when it reports none, ``{"error": ...}`` when the report failed."""
        try:
            caller = self._own_caller("qiskit_runtime_device_memory", executor)
            reported = caller(executor=executor)
        except Exception as error:  # a broken report must not break /-/plugins
            return {"error": f"{type(error).__name__}: {error}"}
        return dict(reported) if isinstance(reported, Mapping) else None

    def validate(self, task: ExecutionTask) -> None:
        """Run ``qiskit_runtime_validate`` of the task's executor: ValueError refuses it."""
        self._own_caller("qiskit_runtime_validate", task.executor)(task=task)

    def execute(self, task: ExecutionTask) -> PrimitiveResult:
        """Run ``task`` through ``qiskit_runtime_execute``, restricted to its executor's plugin,
        and return its result in the form IBM returns (results.conform)."""
        registered = self.executors[task.executor]
        started = datetime.now(UTC)
        result = self._own_caller("qiskit_runtime_execute", task.executor)(task=task)
        stopped = datetime.now(UTC)
        label = f"executor {task.executor!r} of {registered.plugin.label()}"
        if result is None:
            raise ExecutorContractError(f"{label} returned no result")
        if not isinstance(result, PrimitiveResult):
            raise ExecutorContractError(
                f"{label} returned {type(result).__name__}, not a PrimitiveResult"
            )
        if len(result) != len(task.pubs):
            raise ExecutorContractError(
                f"{label} returned {len(result)} PUB results for {len(task.pubs)} PUBs"
            )
        try:
            result = conform(result, task, started, stopped)
        except ExecutorContractError as error:
            raise ExecutorContractError(f"{label}: {error}") from None
        if registered.info.simulates_noise and task.options.noise_model is None:
            result = with_derived_calibrations(result, task)
        return result

    def device_noise(self, query: NoiseQuery) -> DeviceNoise:
        """Ask ``qiskit_runtime_device_noise`` of the query's executor for its noise, and check
        that the answer covers the query: a channel of the right width (or None) for every
        gate, probabilities for readout errors."""
        registered = self.executors[query.executor]
        label = f"executor {query.executor!r} of {registered.plugin.label()}"
        answer = self._own_caller("qiskit_runtime_device_noise", query.executor)(query=query)
        if answer is None:
            raise ExecutorContractError(f"{label} gave no answer to qiskit_runtime_device_noise")
        if not isinstance(answer, DeviceNoise):
            raise ExecutorContractError(
                f"{label} returned {type(answer).__name__} from qiskit_runtime_device_noise, "
                "not a DeviceNoise"
            )
        gate_errors: Any = answer.gate_errors
        readout_errors: Any = answer.readout_errors
        if not isinstance(gate_errors, Mapping) or not isinstance(readout_errors, Mapping):
            raise ExecutorContractError(
                f"{label} gave gate_errors or readout_errors that are not mappings"
            )
        for gate in query.gates:
            if gate not in gate_errors:
                raise ExecutorContractError(f"{label} said nothing about the noise of {gate}")
            channel = gate_errors[gate]
            if channel is None:
                continue
            dims = getattr(channel, "num_qubits", None)
            width = 2 ** len(gate.qubits)
            if dims != len(gate.qubits) or getattr(channel, "dim", None) != (width, width):
                raise ExecutorContractError(
                    f"{label} gave a {type(channel).__name__} on {dims} qubits for {gate}"
                )
        for qubit, flips in readout_errors.items():
            if not _two_probabilities(flips):
                raise ExecutorContractError(
                    f"{label} gave readout error {flips!r} for qubit {qubit}: expected "
                    "(P(1|0), P(0|1)), two probabilities"
                )
        return answer


def _two_probabilities(value: Any) -> bool:
    """Whether an executor's readout error is a pair of probabilities (a plugin may send
    anything: a number, a string, numpy scalars)."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return False
    return all(isinstance(p, numbers.Real) and 0.0 <= float(p) <= 1.0 for p in value)


def _import(path: str) -> object:
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc))
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
