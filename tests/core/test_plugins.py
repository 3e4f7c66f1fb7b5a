"""Plugin discovery and the errors a misbehaving plugin gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from qiskit_runtime_server import ExecutorInfo, hookimpl
from qiskit_runtime_server.plugins import PluginHost
from qrs_test_plugins.processes import ServerProcess


def install_fake_distribution(root: Path, *, name: str, module: str, source: str) -> None:
    """Make ``root`` hold an installed distribution (a dist-info directory and a module), as
    ``pip install --target root`` would, declaring one ``qiskit_runtime.executors`` entry."""
    (root / f"{module}.py").write_text(source)
    dist_info = root / f"{name.replace('-', '_')}-0.3.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3.0\n")
    (dist_info / "entry_points.txt").write_text(f"[qiskit_runtime.executors]\nbroken = {module}\n")


@pytest.fixture
def broken_env(tmp_path: Path) -> dict[str, str]:
    install_fake_distribution(
        tmp_path,
        name="qrs-broken-plugin",
        module="qrs_broken_plugin",
        source='raise ImportError("libcustatevec.so.1: cannot open shared object file")\n',
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qiskit_runtime_server.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_broken_plugin_is_reported_and_the_others_load(broken_env: dict[str, str]) -> None:
    result = cli("plugins", "--json", env=broken_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    by_name = {record["name"]: record for record in summary["plugins"]}
    broken = by_name["broken"]
    assert broken["status"] == "failed"
    assert broken["distribution"] == "qrs-broken-plugin"
    assert broken["version"] == "0.3.0"
    assert "ImportError: libcustatevec.so.1" in broken["error"]
    assert by_name["aer"]["status"] == "loaded"
    assert {ex["name"] for ex in summary["executors"]} >= {"aer"}
    # The example executor is installed and loads, but is opt-in: not served unless named.
    assert "opt-in" in summary["unserved_executors"]["reference"]
    text = cli("plugins", env=broken_env).stdout
    assert "broken" in text
    assert "failed" in text
    assert "error: failed to import qrs_broken_plugin: ImportError" in text


def test_server_starts_despite_a_broken_plugin(broken_env: dict[str, str], tmp_path: Path) -> None:
    with ServerProcess(tmp_path, env=broken_env) as server:
        server.wait_ready()
        names = {d["name"] for d in httpx.get(f"{server.url}/api/v1/backends").json()["devices"]}
        assert "fake_manila@aer" in names
        plugins = httpx.get(f"{server.url}/-/plugins").json()["plugins"]
        assert any(p["name"] == "broken" and p["status"] == "failed" for p in plugins)
    assert "plugin 'broken' (qrs-broken-plugin 0.3.0)" in server.log.read_text()


def test_disabled_plugins_are_not_loaded() -> None:
    host = PluginHost.load(disabled=["reference"])
    record = next(r for r in host.records if r.name == "reference")
    assert record.status == "disabled"
    assert "reference" not in host.executors
    assert "aer" in host.executors


def _info(name: str) -> ExecutorInfo:
    return ExecutorInfo(
        name=name, version="1", device="CPU", programs=frozenset({"sampler"}),
        simulates_noise=False, max_qubits=4,
    )  # fmt: skip


class UnknownHook:
    @hookimpl
    def qiskit_runtime_executor(self) -> Sequence[ExecutorInfo]:  # typo: missing "s"
        return []


class Unmarked:
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [_info("unmarked")]


class WrongType:
    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[object]:
        return ["not an ExecutorInfo"]


class Duplicate:
    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        return [_info("aer")]


class WrongArguments:
    @hookimpl
    def qiskit_runtime_execute(self, task: object, gpu: int) -> None:
        return None


class Raises:
    @hookimpl
    def qiskit_runtime_executors(self) -> Sequence[ExecutorInfo]:
        raise RuntimeError("no licence")


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (UnknownHook(), "unknown hook 'qiskit_runtime_executor'; known hooks are"),
        (Unmarked(), "'qiskit_runtime_executors' is not marked with @qiskit_runtime_server.hookimpl"),
        (WrongType(), "returned 'not an ExecutorInfo', which is not an ExecutorInfo"),
        (Duplicate(), "executor name 'aer' is already registered by plugin 'aer' (qiskit-runtime-server-aer"),
        (WrongArguments(), "Argument(s) {'gpu'} are declared in the hookimpl but can not be found in the hookspec"),
        (Raises(), "a hook raised RuntimeError: no licence"),
    ],
)  # fmt: skip
def test_contract_violations_are_reported_with_the_plugin(plugin: object, message: str) -> None:
    host = PluginHost.load(extra_plugins=[("bad", plugin)])
    record = next(r for r in host.records if r.name == "bad")
    assert record.status == "failed"
    assert record.error is not None
    assert message in record.error
    assert host.pm.get_plugin("bad") is None
    assert "aer" in host.executors  # the others still load


def test_executor_info_rejects_bad_descriptions() -> None:
    with pytest.raises(ValueError, match="must match"):
        _info("Bad Name")
    with pytest.raises(ValueError, match="programs"):
        ExecutorInfo(
            name="x", version="1", device="CPU", programs=frozenset({"qasm"}),  # type: ignore[arg-type]
            simulates_noise=False, max_qubits=1,
        )  # fmt: skip
