"""The pytest plugin (``pytest_qiskit_runtime_server``), as another project's test suite
meets it: run by ``pytester`` in a fresh pytest process that finds the plugin through its
installed ``pytest11`` entry point, like any project that installs the core."""

from __future__ import annotations

import pytest
from qiskit_runtime_server.auth.keyfile import KeyFile, save

CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/ci:team::"

#: A project's tests: IBM's device names and a virtual backend, through the real client.
PROJECT_TESTS = """
import httpx
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import SamplerV2


def test_a_bell_job_on_ibmq_manila(qiskit_runtime_service):
    backend = qiskit_runtime_service.backend("ibmq_manila")
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    isa = generate_preset_pass_manager(1, backend=backend).run(circuit)
    counts = SamplerV2(mode=backend).run([isa], shots=100).result()[0].data.meas.get_counts()
    assert sum(counts.values()) == 100


def test_the_server_is_on_loopback_with_a_temporary_database(qiskit_runtime_server, tmp_path_factory):
    assert qiskit_runtime_server.url.startswith("http://127.0.0.1:")
    settings = qiskit_runtime_server.state.settings
    assert settings.data_dir.is_relative_to(tmp_path_factory.getbasetemp())
    assert settings.database_url is None and settings.dispatcher == "local"
    executors = set(qiskit_runtime_server.state.plugins.executors)
    print("EXECUTORS", sorted(executors))
    print("KEYS", httpx.get(qiskit_runtime_server.url + "/api/v1/backends").status_code)


def test_one_server_per_session(qiskit_runtime_server, qiskit_runtime_service):
    names = {b.name for b in qiskit_runtime_service.backends(min_num_qubits=100)}
    assert "ibm_kyiv" in names
"""


@pytest.mark.slow  # a fresh pytest process that starts a server
def test_a_projects_tests_get_a_real_server_and_service(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also where the environment configures another server (a database the test server
    must not join, the Ray dispatcher): the test server keeps its own SQLite and workers."""
    monkeypatch.setenv("QRS_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/elsewhere")
    monkeypatch.setenv("QRS_DISPATCHER", "ray")
    pytester.makepyfile(test_project=PROJECT_TESTS)
    result = pytester.runpytest_subprocess("-s", "--qrs-executors=aer", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    output = result.stdout.str()
    assert "EXECUTORS ['aer']" in output
    assert "KEYS 200" in output


@pytest.mark.slow  # a fresh pytest process that starts a server
def test_keys_and_a_data_directory_from_the_ini_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a keys file the server refuses callers without a key, and the service connects
    with the token given; the data directory is the one named. The ini file's paths are
    relative to it, wherever pytest runs."""
    keys = KeyFile()
    _, key = keys.add("ci", [CRN], instance_name="team")
    save(pytester.path / "keys.toml", keys)
    pytester.makeini(
        f"""
        [pytest]
        qrs_api_keys_file = keys.toml
        qrs_token = {key}
        qrs_data_dir = qrs-data
        qrs_executors = aer
        """
    )
    monkeypatch.chdir(pytester.mkdir("tests"))  # pytest runs in a subdirectory
    pytester.makepyfile(
        test_keys="""
import httpx

def test_keys(qiskit_runtime_server, qiskit_runtime_service):
    assert httpx.get(qiskit_runtime_server.url + "/api/v1/backends").status_code == 401
    assert qiskit_runtime_service.backend("ibm_fez").num_qubits == 156
    assert qiskit_runtime_server.state.settings.data_dir.name == "qrs-data"
"""
    )
    result = pytester.runpytest_subprocess(str(pytester.path / "test_keys.py"), "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "qrs-data" / "qiskit-runtime-server.sqlite3").exists()


def test_no_effect_on_runs_that_do_not_use_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
import sys

def test_plain():
    assert "qiskit" not in sys.modules
    assert "qiskit_runtime_server" not in sys.modules
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "qrs-executors" in pytester.runpytest_subprocess("--help").stdout.str()


def test_bad_options_and_no_executor_get_a_clear_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each is an error of the tests that ask for the server, with what to do; tests that do
    not ask for it still pass."""
    pytester.makepyfile(
        test_mixed="""
def test_uses_it(qiskit_runtime_server):
    pass

def test_does_not():
    pass
"""
    )
    unknown = pytester.runpytest_subprocess("--qrs-executors=aer,nowhere", "-p", "no:randomly")
    unknown.assert_outcomes(passed=1, errors=1)
    unknown.stdout.fnmatch_lines(["*QRS_EXECUTORS names 'nowhere', which is not installed*"])
    default = pytester.runpytest_subprocess("--qrs-default-executor=qpu", "-p", "no:randomly")
    default.assert_outcomes(passed=1, errors=1)
    default.stdout.fnmatch_lines(["*QRS_DEFAULT_EXECUTOR is 'qpu', which is not served*"])
    broken = pytester.path / "keys.toml"
    broken.write_text("not [toml")
    keys = pytester.runpytest_subprocess(f"--qrs-api-keys-file={broken}", "-p", "no:randomly")
    keys.assert_outcomes(passed=1, errors=1)
    keys.stdout.fnmatch_lines([f"*qiskit_runtime_server: *{broken}*"])
    assert "Traceback" not in keys.stdout.str()
    monkeypatch.setenv("QRS_LOAD_ENTRY_POINTS", "false")  # no executor plugin
    none = pytester.runpytest_subprocess("-p", "no:randomly")
    none.assert_outcomes(passed=1, errors=1)
    none.stdout.fnmatch_lines(["*no executor is installed*plugins/aer*"])
