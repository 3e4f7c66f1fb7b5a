"""``/backends``: the catalogue, documents and status, including unavailable executors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from qiskit import QuantumCircuit
from qiskit_ibm_runtime.fake_provider import FakeKyiv
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer, encode_job_body

from ...conftest import assert_ibm_error


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    # The offline test plugin stands for every unavailable executor (custatevec is left out
    # so that the counts below do not depend on which workspace plugins are installed).
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        plugins=["qrs_test_plugins.offline"],
        disabled_plugins=["custatevec"],
        executors=["aer", "reference", "offline"],  # the example executor is opt-in
    )
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        yield client


def test_list_is_short_entries(http: httpx.Client) -> None:
    devices = http.get("/api/v1/backends").json()["devices"]
    # 68 fake devices + ideal, times aer, reference, offline; IBM's names of 66 on aer
    assert len(devices) == 69 * 3 + 66
    manila = next(d for d in devices if d["name"] == "fake_manila@aer")
    assert manila["status"] == {"name": "online"}
    assert manila["qubits"] == 5
    assert manila["queue_length"] == 0
    assert "gates" not in manila  # short entries, not configurations
    offline = next(d for d in devices if d["name"] == "fake_manila@offline")
    assert offline["status"] == {"name": "offline", "reason": "no CUDA device visible"}


def test_mocks_are_listed_only_when_asked_for(http: httpx.Client) -> None:
    """Each backend's mock counterpart (for dry runs) is a ``class: mock`` entry, listed with
    ``include_mocks`` (the client sends ``True``), with the documents and status of the
    backend it stands for under its own name."""
    plain = http.get("/api/v1/backends").json()["devices"]
    assert not any("class" in device for device in plain)
    devices = http.get("/api/v1/backends", params={"include_mocks": "True"}).json()["devices"]
    mocks = {d["name"]: d for d in devices if d.get("class") == "mock"}
    assert len(devices) == 2 * len(plain) == 2 * len(mocks)
    assert {d["name"] for d in devices} - set(mocks) == {d["name"] for d in plain}
    assert mocks["mock_manila@aer"]["qubits"] == 5
    assert mocks["mock_simulator@aer"]["simulator"] is True
    assert mocks["mock_manila@offline"]["status"]["name"] == "offline"
    conf = http.get("/api/v1/backends/mock_manila@aer/configuration").json()
    real = http.get("/api/v1/backends/fake_manila@aer/configuration").json()
    assert conf["backend_name"] == "mock_manila@aer"
    assert conf["description"].startswith("Mock of fake_manila@aer, for dry runs")
    assert {**conf, "backend_name": None, "description": None} == {
        **real,
        "backend_name": None,
        "description": None,
    }
    props = http.get("/api/v1/backends/mock_manila@aer/properties").json()
    assert props["backend_name"] == "mock_manila@aer"
    assert props["calibration_id"] == real["calibration_id"]
    status = http.get("/api/v1/backends/mock_manila@offline/status").json()
    assert status["state"] is False


def test_documents_are_the_device_snapshots(http: httpx.Client) -> None:
    conf = http.get("/api/v1/backends/fake_kyiv@aer/configuration").json()
    props = http.get("/api/v1/backends/fake_kyiv@aer/properties").json()
    fake = FakeKyiv()
    assert conf["backend_name"] == "fake_kyiv@aer"
    assert conf["n_qubits"] == 127
    assert conf["basis_gates"] == fake.configuration().basis_gates
    assert props["backend_name"] == "fake_kyiv@aer"
    assert len(props["qubits"]) == 127
    assert http.get("/api/v1/backends/ideal_simulator@aer/properties").json() == {}


def test_status_of_available_and_unavailable_backends(http: httpx.Client) -> None:
    status = http.get("/api/v1/backends/fake_manila@aer/status").json()
    assert status["state"] is True
    assert status["status"] == "active"
    offline = http.get("/api/v1/backends/fake_manila@offline/status").json()
    assert offline["state"] is False
    assert offline["status"] == "no CUDA device visible"


def test_jobs_for_an_unavailable_executor_are_4xx(http: httpx.Client) -> None:
    circuit = QuantumCircuit(1)
    circuit.measure_all()
    body = encode_job_body("sampler", "ideal_simulator@offline", [circuit])
    assert_ibm_error(
        http.post("/api/v1/jobs", json=body), 400, "invalid_request", "no CUDA device visible"
    )


def test_unknown_backend_is_404(http: httpx.Client) -> None:
    for suffix in ("configuration", "properties", "status"):
        assert_ibm_error(
            http.get(f"/api/v1/backends/fake_nowhere@aer/{suffix}"), 404, "not_found",
            "fake_nowhere@aer",
        )  # fmt: skip


def test_configuration_is_valid_json_for_every_backend(http: httpx.Client) -> None:
    for device in http.get("/api/v1/backends").json()["devices"]:
        body = http.get(f"/api/v1/backends/{device['name']}/configuration").content
        assert json.loads(body)["backend_name"] == device["name"]


def test_each_device_serves_one_calibration_and_refuses_others(http: httpx.Client) -> None:
    conf = http.get("/api/v1/backends/fake_kyiv@aer/configuration").json()
    props = http.get("/api/v1/backends/fake_kyiv@aer/properties").json()
    calibration_id = conf["calibration_id"]
    # The snapshot's date in UTC, then a digest of its documents.
    assert calibration_id == props["calibration_id"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{12}", calibration_id)
    # One calibration per device, whichever executor runs it.
    other = http.get("/api/v1/backends/fake_kyiv@reference/configuration").json()
    assert other["calibration_id"] == calibration_id
    manila = http.get("/api/v1/backends/fake_manila@aer/configuration").json()
    assert manila["calibration_id"] != calibration_id
    for document in ("configuration", "properties"):
        url = f"/api/v1/backends/fake_kyiv@aer/{document}"
        pinned = http.get(url, params={"calibration_id": calibration_id})
        assert pinned.status_code == 200
        assert pinned.json()["calibration_id"] == calibration_id
        assert_ibm_error(
            http.get(url, params={"calibration_id": "no-such-id"}), 404, "not_found",
            "calibration 'no-such-id' of backend fake_kyiv@aer was not found",
        )  # fmt: skip
    # The ideal simulator has no properties: its configuration alone makes its calibration.
    ideal = http.get("/api/v1/backends/ideal_simulator@aer/configuration").json()
    assert ideal["calibration_id"].startswith("20240101T000000Z-")
    assert http.get("/api/v1/backends/ideal_simulator@aer/properties").json() == {}
    pinned_ideal = http.get(
        "/api/v1/backends/ideal_simulator@aer/properties",
        params={"calibration_id": ideal["calibration_id"]},
    )
    assert pinned_ideal.json() == {}
