"""The web dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright)
against a real server, with jobs run through the real client.

Set ``QRS_DASHBOARD_SCREENSHOTS=docs/images`` to write the screenshots docs/observability.md
shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService, SamplerV2
from qiskit_runtime_server.auth.keyfile import load, save
from qiskit_runtime_server.client import connect
from qiskit_runtime_server.testing import LiveServer
from qrs_test_plugins.circuits import bell, bell_for_testkit
from qrs_test_plugins.gate import Gate
from qrs_test_plugins.processes import ServerProcess

CRN_A = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:instance-a::"
CRN_B = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:instance-b::"
TIMEOUT_MS = 30_000


def chromium_executable() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium_executable())
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, errors  # no uncaught JavaScript error on any page


def screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("QRS_DASHBOARD_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def test_a_job_run_through_the_client_is_drawn(
    server: LiveServer, service: QiskitRuntimeService, page: Page
) -> None:
    sampler = SamplerV2(service.backend("ideal_simulator@aer"))
    sampler.options.environment.job_tags = ["dashboard"]
    job = sampler.run([bell()], shots=400)
    counts = job.result()[0].data.meas.get_counts()
    page.goto(f"{server.url}/dashboard")
    aer = page.locator('#executors tr[data-executor="aer"]')
    expect(aer).to_contain_text("available")
    assert int(aer.locator("td.workers").inner_text()) >= 1
    screenshot(page, "dashboard-overview")

    page.goto(f"{server.url}/dashboard#/jobs?tags=dashboard")
    row = page.locator(f'#jobs tr[data-job="{job.job_id()}"]')
    expect(row).to_contain_text("Completed")
    screenshot(page, "dashboard-jobs")
    row.locator("a").click()
    bars = page.locator("#results svg.histogram rect.bar")
    expect(bars).to_have_count(len(counts))
    drawn = {
        bars.nth(i).get_attribute("data-outcome"): int(bars.nth(i).get_attribute("data-count") or 0)
        for i in range(bars.count())
    }
    assert drawn == counts  # the histogram is the job's counts
    expect(page.locator("#job")).to_contain_text("ideal_simulator@aer")
    expect(page.locator("#pubs")).to_contain_text("400")  # the PUB's shots
    expect(page.locator("#logs")).to_contain_text("job completed")
    expect(page.locator("svg.timeline rect.run")).to_have_count(1)
    screenshot(page, "dashboard-sampler-job")


def test_estimator_values_are_drawn_with_error_bars(
    server: LiveServer, service: QiskitRuntimeService, page: Page
) -> None:
    backend = service.backend("fake_manila@aer")
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(circuit)
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in ("ZZ", "XX", "ZI")]
    estimator = EstimatorV2(backend)
    estimator.options.default_shots = 2000
    job = estimator.run([(isa, observables)])
    result = job.result()[0].data
    page.goto(f"{server.url}/dashboard#/jobs/{job.job_id()}")
    points = page.locator("#results svg.errorbars circle.ev")
    expect(points).to_have_count(3)
    for i in range(3):
        assert float(points.nth(i).get_attribute("data-ev") or "nan") == pytest.approx(
            float(result.evs[i])
        )
        assert float(points.nth(i).get_attribute("data-std") or "nan") == pytest.approx(
            float(result.stds[i])
        )
        assert float(result.stds[i]) > 0  # shots on a noisy device: visible error bars
    expect(page.locator("#results svg.errorbars line.errorbar")).to_have_count(9)
    screenshot(page, "dashboard-estimator-job")


def test_a_running_job_s_page_follows_it_to_its_end(
    server: LiveServer, service: QiskitRuntimeService, gate: Gate, page: Page
) -> None:
    gate.close()
    held = bell_for_testkit("gate")
    try:
        job = SamplerV2(service.backend("ideal_simulator@testkit")).run([held], shots=10)
        gate.wait_started({job.job_id()})
        page.goto(f"{server.url}/dashboard#/jobs/{job.job_id()}")
        expect(page.locator("#job")).to_have_attribute("data-status", "Running")
    finally:
        gate.open()
    # No reload: the page refreshes by itself while the job runs.
    expect(page.locator("#job")).to_have_attribute("data-status", "Completed")
    expect(page.locator("#results svg.histogram rect.bar")).not_to_have_count(0)


# -- keys mode -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, str]]:
    data_dir = tmp_path_factory.mktemp("dashboard-keys")
    keys_file = data_dir / "keys.toml"
    keys = load(keys_file)
    _, alice = keys.add("alice", [CRN_A], instance_name="instance-a")
    _, bob = keys.add("bob", [CRN_B], instance_name="instance-b")
    save(keys_file, keys)
    environment = {
        "QRS_API_KEYS_FILE": str(keys_file),
        "QRS_WORKERS": "1",
        "QRS_PRESTART_WORKERS": "false",
        "QRS_EXECUTORS": '["aer"]',
    }
    with ServerProcess(data_dir, extra_env=environment) as process:
        process.wait_ready()
        yield process, alice, bob


@pytest.fixture(scope="module")
def alices_job(keyed: tuple[ServerProcess, str, str]) -> str:
    """A finished sampler job of instance A, submitted with Alice's key: its id."""
    server, alice, _ = keyed
    service = connect(server.url, token=alice, instance=CRN_A)
    job = SamplerV2(service.backend("ideal_simulator@aer")).run([bell()], shots=100)
    job.result()
    return str(job.job_id())


def sign_in(page: Page, key: str) -> None:
    expect(page.locator("#login")).to_be_visible()
    page.fill("#key", key)
    page.click("#login button[type=submit]")
    expect(page.locator("#login")).to_be_hidden()


def test_with_keys_one_instance_never_sees_another_s_jobs(
    keyed: tuple[ServerProcess, str, str], alices_job: str, page: Page
) -> None:
    server, alice, bob = keyed

    page.goto(f"{server.url}/dashboard")
    # No key, no data: the page asks for one.
    expect(page.locator("#login")).to_be_visible()
    assert page.locator("#executors").count() == 0
    screenshot(page, "dashboard-sign-in")
    page.fill("#key", "not-a-key")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("not valid")

    page.fill("#key", bob)
    page.click("#login button[type=submit]")
    expect(page.locator("#usage")).to_contain_text("instance-b")
    expect(page.locator("#usage")).not_to_contain_text("instance-a")
    options = page.locator("#instance option")
    expect(options).to_have_count(1)
    page.goto(f"{server.url}/dashboard#/jobs")
    expect(page.locator("#jobs")).to_contain_text("No job matches")
    page.goto(f"{server.url}/dashboard#/jobs/{alices_job}")
    expect(page.locator("#not-found")).to_be_visible()
    # Asking for instance A with Bob's token is refused outright.
    status = page.evaluate(
        """async ([id, crn]) => (await fetch("/dashboard/api/jobs/" + id, {headers: {
            Authorization: "Bearer " + sessionStorage.getItem("qrs.token"),
            "Service-CRN": crn}})).status""",
        [alices_job, CRN_A],
    )
    assert status == 403

    page.click("#logout")
    sign_in(page, alice)
    page.goto(f"{server.url}/dashboard#/jobs/{alices_job}")
    expect(page.locator("#results svg.histogram rect.bar")).to_have_count(2)
    screenshot(page, "dashboard-keys-alice-job")


# -- behind a reverse proxy ------------------------------------------------------------------

PREFIX = "/qrs"


def prefix_proxy(upstream: str) -> Callable[..., Awaitable[None]]:
    """An ASGI reverse proxy that serves ``upstream`` under ``PREFIX`` (what nginx's
    ``location /qrs/ { proxy_pass http://upstream/; }`` does): the prefix is taken off the path
    of each request, which is forwarded with its method, headers and body."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope["path"]
        if not path.startswith(PREFIX + "/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not behind the proxy"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        url = f"{upstream}{path.removeprefix(PREFIX)}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"]
        async with httpx.AsyncClient() as client:
            answer = await client.request(scope["method"], url, headers=headers, content=body)
        kept = [
            (k.encode(), v.encode())
            for k, v in answer.headers.items()
            if k.lower() not in {"content-length", "transfer-encoding", "content-encoding"}
        ]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": kept})
        await send({"type": "http.response.body", "body": answer.content})

    return app


def test_behind_a_proxy_with_a_path_prefix_the_page_signs_in_and_draws(
    keyed: tuple[ServerProcess, str, str], alices_job: str, page: Page
) -> None:
    server, alice, _ = keyed
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    with LiveServer(prefix_proxy(server.url)) as proxy:  # type: ignore[arg-type]
        page.goto(f"{proxy.url}{PREFIX}/dashboard")
        sign_in(page, alice)
        expect(page.locator("#usage")).to_contain_text("instance-a")
        page.goto(f"{proxy.url}{PREFIX}/dashboard#/jobs/{alices_job}")
        expect(page.locator("#results svg.histogram rect.bar")).to_have_count(2)
    # The page, its script and style, the sign-in and the data: all through the prefix.
    assert requested, "the browser made no request"
    outside = [url for url in requested if not url.startswith(f"{proxy.url}{PREFIX}/")]
    assert not outside, outside
    for path in ("dashboard/static/app.js", "identity/token", "dashboard/api/jobs/"):
        assert any(f"{PREFIX}/{path}" in url for url in requested), path
