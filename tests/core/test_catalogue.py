"""The catalogue's availability: an executor unavailable on this host is available through a
scheduler that runs it (a Ray cluster's GPU node), and says why it is not otherwise."""

from __future__ import annotations

import pytest
from qiskit_runtime_server.catalogue import Catalogue, Reach
from qiskit_runtime_server.errors import ConfigurationError
from qiskit_runtime_server.plugins import PluginHost


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> Catalogue:
    monkeypatch.delenv("QRS_TEST_GPU_LIKE", raising=False)
    plugins = PluginHost.load(
        entry_points=False,
        plugin_paths=["qrs_test_plugins.testkit", "qrs_test_plugins.gpu_like"],
    )
    return Catalogue(plugins, Reach())


def test_an_executor_run_elsewhere_makes_its_backends_available(catalogue: Catalogue) -> None:
    gpu = catalogue.get("ideal_simulator@gpulike")
    mock = catalogue.get("mock_simulator@gpulike")
    assert gpu is not None
    assert mock is not None
    assert not gpu.available
    assert "QRS_TEST_GPU_LIKE" in (gpu.unavailable_reason or "")
    assert gpu.max_qubits == 1  # this host's own limit, without the device
    catalogue.reach.update(["testkit", "gpulike"], {"testkit": 8, "gpulike": 8})
    assert gpu.available
    assert mock.available
    assert gpu.unavailable_reason is None
    assert gpu.max_qubits == 8  # the nodes' limit
    catalogue.reach.update(["testkit"])  # the GPU node left
    assert not gpu.available


def test_an_executor_available_here_needs_no_scheduler_elsewhere(catalogue: Catalogue) -> None:
    backend = catalogue.get("ideal_simulator@testkit")
    assert backend is not None
    assert backend.available


# -- IBM's device names and a newcomer's catalogue (issue 21) ---------------------------------


@pytest.fixture(scope="module")
def plugins() -> PluginHost:
    """The fake devices with two executors, testkit first: the default must win the order
    whatever the load order."""
    return PluginHost.load(
        entry_points=False,
        plugin_paths=["qrs_test_plugins.testkit", "qrs_test_plugins.gpu_like"],
    )


def test_ibm_names_are_served_on_the_default_executor(plugins: PluginHost) -> None:
    catalogue = Catalogue(plugins, default_executor="gpulike")
    kyiv = catalogue.get("ibm_kyiv")
    manila = catalogue.get("ibmq_manila")
    assert kyiv is not None
    assert manila is not None
    assert kyiv.description.name == "fake_kyiv"
    assert kyiv.executor.info.name == "gpulike"
    assert kyiv.num_qubits == 127
    assert manila.num_qubits == 5
    assert kyiv.configuration()["backend_name"] == "ibm_kyiv"
    assert (kyiv.properties() or {})["backend_name"] == "ibm_kyiv"
    # The same calibration as the device's virtual backends.
    assert kyiv.calibration_id == catalogue.get("fake_kyiv@testkit").calibration_id  # type: ignore[union-attr]
    # The client's dry run of ibm_kyiv goes to mock_kyiv.
    mock = catalogue.get("mock_kyiv")
    assert mock is not None
    assert mock.dry_run_of == "ibm_kyiv"


def test_every_device_with_an_ibm_name_has_it_and_others_keep_their_virtual_names(
    plugins: PluginHost,
) -> None:
    catalogue = Catalogue(plugins, default_executor="testkit")
    plain = [b for b in catalogue if "@" not in b.name]
    named = {b.description.name for b in plain}
    assert {b.name for b in plain} >= {"ibm_fez", "ibm_torino", "ibmqx2", "ibmq_16_melbourne"}
    assert all(b.name == b.description.ibm_name for b in plain)
    assert len(plain) == 66  # 68 fake devices; fake_fractional and fake_nighthawk have none
    assert {"fake_fractional", "fake_nighthawk", "ideal_simulator"}.isdisjoint(named)
    assert catalogue.get("fake_fractional@testkit") is not None
    assert catalogue.get("fractional") is None


def test_the_listing_favours_the_default_executor(plugins: PluginHost) -> None:
    """IBM's names first, then the default executor's virtual backends, then the others':
    the client's least_busy() takes the first of the least busy."""
    names = [b.name for b in Catalogue(plugins, default_executor="gpulike")]
    first_virtual = next(i for i, name in enumerate(names) if "@" in name)
    assert all("@" not in name for name in names[:first_virtual])
    executors = [name.split("@")[1] for name in names[first_virtual:]]
    assert executors == sorted(executors, key=lambda name: name != "gpulike")
    assert executors[0] == "gpulike"


def test_no_default_executor_serves_no_ibm_names(plugins: PluginHost) -> None:
    catalogue = Catalogue(plugins)
    assert catalogue.get("ibm_kyiv") is None
    assert all("@" in backend.name for backend in catalogue)


def test_a_name_two_descriptions_claim_is_served_by_neither(
    plugins: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    from qiskit_runtime_server.catalogue import ibm_names

    manila = plugins.descriptions["fake_manila"]
    lima = plugins.descriptions["fake_lima"]

    class Twin:
        name = "fake_twin"
        ibm_name = "ibmq_manila"

    names = ibm_names([manila, lima, Twin()])  # type: ignore[list-item]
    assert names == {"ibmq_lima": lima}
    assert "'ibmq_manila' is not served" in caplog.text


def test_the_default_executor_is_aer_where_served_else_none() -> None:
    with_aer = PluginHost.load(plugin_paths=["qrs_test_plugins.testkit"])
    assert with_aer.default_executor(None) == "aer"
    assert with_aer.default_executor("testkit") == "testkit"
    without = PluginHost.load(entry_points=False, plugin_paths=["qrs_test_plugins.testkit"])
    assert without.default_executor(None) is None


def test_a_default_executor_that_is_not_served_is_refused_with_what_is(
    plugins: PluginHost,
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        plugins.default_executor("qpu")
    message = str(refused.value)
    assert "QRS_DEFAULT_EXECUTOR is 'qpu'" in message
    assert "testkit" in message
    assert "gpulike" in message


def test_opt_in_executors_are_served_only_when_named() -> None:
    host = PluginHost.load()
    assert host.executors["reference"].info.opt_in
    host.serve_only([])
    assert "reference" not in host.executors
    assert "aer" in host.executors
    assert "opt-in" in host.unserved["reference"]
    with pytest.raises(ConfigurationError) as refused:
        host.default_executor("reference")
    assert "opt-in" in str(refused.value)
    named = PluginHost.load()
    named.serve_only(["reference"])
    assert list(named.executors) == ["reference"]
    assert named.unserved["aer"] == "not named in QRS_EXECUTORS"


def test_an_executor_named_but_not_installed_is_refused() -> None:
    host = PluginHost.load(entry_points=False, plugin_paths=["qrs_test_plugins.testkit"])
    with pytest.raises(ConfigurationError) as refused:
        host.serve_only(["aer"])
    assert "'aer', which is not installed" in str(refused.value)
    assert "installed executors: testkit" in str(refused.value)


def test_serve_refuses_a_default_executor_that_is_not_served(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A clear error at start-up, listing what is installed, and no server."""
    from click.testing import CliRunner
    from qiskit_runtime_server.cli import main

    monkeypatch.setenv("QRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QRS_DEFAULT_EXECUTOR", "qpu")
    refused = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert refused.exit_code == 1
    assert "QRS_DEFAULT_EXECUTOR is 'qpu', which is not served (not installed)" in refused.output
    assert "aer" in refused.output
    assert "reference (not served: opt-in" in refused.output
    monkeypatch.setenv("QRS_DEFAULT_EXECUTOR", "aer")
    monkeypatch.setenv("QRS_EXECUTORS", '["aer", "nowhere"]')
    refused = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert refused.exit_code == 1
    assert "QRS_EXECUTORS names 'nowhere', which is not installed" in refused.output


def test_an_unknown_virtual_name_says_which_part_is_unknown(plugins: PluginHost) -> None:
    catalogue = Catalogue(plugins, default_executor="testkit")
    assert "executor 'aer' is not served here; served: testkit, gpulike" in catalogue.not_found(
        "fake_kyiv@aer"
    )
    assert "no device is named 'fake_nowhere'" in catalogue.not_found("fake_nowhere@testkit")
    assert catalogue.not_found("ibm_nowhere") == (
        "backend 'ibm_nowhere' was not found; GET /api/v1/backends lists them"
    )
