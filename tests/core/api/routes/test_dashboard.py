"""``/dashboard`` over raw HTTP: the page and its assets, and the JSON behind it (filters,
paging, another instance's job, bad input). The browser tests are in tests/e2e/test_dashboard.py."""

from __future__ import annotations

from typing import Any

from httpx import Client
from qiskit_runtime_server import __version__
from qiskit_runtime_server.testing import encode_job_body
from qrs_test_plugins.circuits import bell

from ...conftest import assert_ibm_error, wait_final

OTHER = {"Service-CRN": "crn:v1:bluemix:public:quantum-computing:us-east:a/other:instance::"}


def run(client: Client, tags: list[str], shots: int = 64) -> dict[str, Any]:
    body = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, shots)])
    body["tags"] = tags
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 200, response.text
    return wait_final(client, response.json()["id"])


def test_the_page_and_its_assets_are_served_by_the_server(client: Client) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # Relative to the page, so that a proxy may serve the server under a path prefix.
    assert 'src="dashboard/static/app.js"' in page.text
    assert "http" not in page.text.replace('"http://www.w3.org', "")  # nothing from elsewhere
    script = client.get("/dashboard/static/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/dashboard/static/style.css").status_code == 200
    # The package's Python files next to static/ are not served: the dots are percent-encoded
    # so that httpx sends them (it resolves a plain "../" itself) and the server decodes them.
    for escape in ("%2e%2e/views.py", "..%2fviews.py", "%2e%2e%2f__init__.py"):
        response = client.get(f"/dashboard/static/{escape}")
        assert response.status_code == 404, escape
        assert "import" not in response.text


def test_jobs_are_filtered_paged_and_drawn(client: Client) -> None:
    first = run(client, ["dash-a", "dash-both"])
    second = run(client, ["dash-b", "dash-both"], shots=32)
    both = client.get("/dashboard/api/jobs", params={"tags": "dash-both", "limit": 1}).json()
    assert both["count"] == 2
    assert [job["id"] for job in both["jobs"]] == [second["id"]]  # newest first
    older = client.get(
        "/dashboard/api/jobs", params={"tags": "dash-both", "limit": 1, "offset": 1}
    ).json()
    assert [job["id"] for job in older["jobs"]] == [first["id"]]
    tagged = client.get("/dashboard/api/jobs", params=[("tags", "dash-a"), ("tags", "dash-both")])
    assert [job["id"] for job in tagged.json()["jobs"]] == [first["id"]]
    completed = client.get(
        "/dashboard/api/jobs", params={"status": "Completed", "tags": "dash-both"}
    ).json()
    assert completed["count"] == 2
    queued = client.get("/dashboard/api/jobs", params={"status": "Queued", "tags": "dash-both"})
    assert queued.json()["count"] == 0
    page = client.get(f"/dashboard/api/jobs/{second['id']}").json()
    assert [event["event"] for event in page["timeline"]] == ["created", "running", "completed"]
    assert page["circuits"] == [{"qubits": 2, "depth": page["circuits"][0]["depth"]}]
    (pub,) = page["pubs"]
    assert pub["kind"] == "counts"
    assert pub["shots"] == 32
    (register,) = pub["registers"]
    assert register["total"] == 32
    assert {count["outcome"] for count in register["counts"]} <= {"00", "11"}
    assert any("job completed" in line for line in page["logs"])


def test_another_instance_s_job_is_not_found(client: Client) -> None:
    job = run(client, ["dash-mine"])
    assert_ibm_error(
        client.get(f"/dashboard/api/jobs/{job['id']}", headers=OTHER), 404, "not_found"
    )
    theirs = client.get("/dashboard/api/jobs", params={"tags": "dash-mine"}, headers=OTHER)
    assert theirs.json()["count"] == 0


def test_bad_filters_get_a_400(client: Client) -> None:
    for params in ({"status": "Done"}, {"limit": 0}, {"limit": 1000}, {"offset": -1}):
        assert_ibm_error(client.get("/dashboard/api/jobs", params=params), 400, "invalid_request")
    # An offset past what the database's integers hold is the client's mistake, not a 500.
    for path in ("/dashboard/api/jobs", "/dashboard/api/sessions"):
        response = client.get(path, params={"offset": 2**63})
        assert_ibm_error(response, 400, "invalid_request", "offset")


def test_overview_and_sessions(client: Client) -> None:
    me = client.get("/dashboard/api/me").json()
    assert me["mode"] == "open"
    assert len(me["instances"]) == 1
    overview = client.get("/dashboard/api/overview").json()
    aer = next(e for e in overview["executors"] if e["name"] == "aer")
    assert aer["available"]
    assert aer["workers_alive"] >= 1
    assert {"queued", "running", "device_memory"} <= set(aer)
    assert overview["instances"][0]["crn"] == me["instances"][0]["crn"]
    assert overview["server_version"] == __version__
    created = client.post(
        "/api/v1/sessions", json={"backend": "ideal_simulator@aer", "mode": "batch"}
    )
    assert created.status_code == 200, created.text
    listed = client.get("/dashboard/api/sessions").json()
    assert created.json()["id"] in [session["id"] for session in listed["sessions"]]
    assert client.get("/dashboard/api/sessions", headers=OTHER).json()["count"] == 0
