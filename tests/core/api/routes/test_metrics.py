"""``GET /metrics`` on a real server: the families an operator scrapes, counted from real jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.auth.keyfile import load, save
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer, encode_job_body
from qrs_test_plugins.circuits import bell
from qrs_test_plugins.metrics import Samples, samples_of

from ...conftest import assert_ibm_error, wait_final


def scrape(client: httpx.Client, headers: dict[str, str] | None = None) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples_of(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_job_is_counted_from_submission_to_its_end(client: httpx.Client) -> None:
    before = scrape(client)
    body = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 50)])
    job_id = client.post("/api/v1/jobs", json=body).json()["id"]
    assert wait_final(client, job_id)["state"]["status"] == "Completed"
    finished = {"program": "sampler", "executor": "aer", "status": "Completed"}
    # The scheduler process's events arrive on their pipe: a job's end at once, the worker
    # counts from a thread that samples them every 0.1 s (a short job can end before the
    # worker that ran it was first counted).
    deadline = time.monotonic() + 10
    while True:
        after = scrape(client)
        if (
            value(after, "qrs_jobs_finished_total", **finished)
            > value(before, "qrs_jobs_finished_total", **finished)
            and value(after, "qrs_workers_alive", executor="aer") >= 1
        ):
            break
        assert time.monotonic() < deadline, "the finished job was not counted"
        time.sleep(0.05)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("qrs_jobs_submitted_total", program="sampler", executor="aer") == 1
    assert grew("qrs_jobs_finished_total", **finished) == 1
    assert grew("qrs_job_queue_wait_seconds_count", executor="aer") == 1
    assert grew("qrs_job_run_seconds_count", **finished) == 1
    assert grew("qrs_job_run_seconds_sum", **finished) > 0
    # Route templates, never paths: one label for every job's polls.
    polls = grew(
        "qrs_http_requests_total", method="GET", route="/api/v1/jobs/{job_id}", status="200"
    )
    assert polls >= 1
    poll = {"method": "GET", "route": "/api/v1/jobs/{job_id}", "status": "200"}
    assert grew("qrs_http_request_duration_seconds_count", **poll) == polls
    assert not any(job_id in str(labels) for _, labels in after)
    assert value(after, "qrs_jobs_queued", executor="aer") == 0
    assert value(after, "qrs_jobs_running", executor="aer") == 0
    assert value(after, "qrs_workers_alive", executor="aer") >= 1
    assert ("qrs_sessions", frozenset({("state", "open")})) in after
    assert value(after, "qrs_server_start_time_seconds") > 0


def test_a_request_no_route_matches_is_counted_under_one_label(client: httpx.Client) -> None:
    before = scrape(client)
    client.get("/no/such/route/8f3a")
    client.get("/dashboard/static/app.js")
    after = scrape(client)
    files = {"method": "GET", "route": "/dashboard/static/{path}", "status": "200"}
    assert value(after, "qrs_http_requests_total", **files) > value(
        before, "qrs_http_requests_total", **files
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "qrs_http_requests_total", **unmatched) == 1 + value(
        before, "qrs_http_requests_total", **unmatched
    )
    assert not any("8f3a" in str(labels) for _, labels in after)


def test_a_method_of_the_clients_own_is_counted_as_other(client: httpx.Client) -> None:
    """The method label takes a fixed set of values, whatever a client sends."""
    client.request("PROPFIND", "/no/such/route")  # WebDAV: HTTP parsers accept it
    after = scrape(client)
    assert not any("PROPFIND" in str(labels) for _, labels in after)
    other = {"method": "other", "route": "unmatched"}
    assert any(
        name == "qrs_http_requests_total" and set(other.items()) <= labels for name, labels in after
    ), after


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("keyed")
    keys_file = data_dir / "keys.toml"
    keys = load(keys_file)
    _, key = keys.add("alice", ["crn:v1:bluemix:public:quantum-computing:us-east:a/team:a::"])
    save(keys_file, keys)
    (data_dir / "alice.key").write_text(key)
    settings = Settings(
        data_dir=data_dir,
        api_keys_file=keys_file,
        metrics_token="scrape-token-0123456789",
        prestart_workers=False,
        executors=["aer"],
    )
    with LiveServer(create_app(settings)) as server:
        yield server


def test_with_keys_only_the_scrape_token_reads_the_metrics(keyed: LiveServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30) as http:
        assert_ibm_error(http.get("/metrics"), 401, "unauthorized", "QRS_METRICS_TOKEN")
        wrong = {"Authorization": "Bearer not-the-token"}
        assert_ibm_error(
            http.get("/metrics", headers=wrong), 401, "unauthorized", "QRS_METRICS_TOKEN"
        )
        # An instance's key does not open them: they count every instance's jobs.
        key = (keyed.state.settings.data_dir / "alice.key").read_text()
        as_alice = {"Authorization": f"apikey {key}"}
        assert_ibm_error(
            http.get("/metrics", headers=as_alice), 401, "unauthorized", "QRS_METRICS_TOKEN"
        )
        scraped = scrape(http, {"Authorization": "Bearer scrape-token-0123456789"})
        assert ("qrs_server_start_time_seconds", frozenset()) in scraped
