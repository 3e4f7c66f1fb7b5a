"""Health probes and the plugin list."""

from __future__ import annotations

from httpx import Client


def test_probes(client: Client) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok"
    assert "aer" in ready["executors_available"]


def test_plugin_list(client: Client) -> None:
    body = client.get("/-/plugins").json()
    names = {plugin["name"]: plugin for plugin in body["plugins"]}
    assert names["aer"]["distribution"] == "qiskit-runtime-server-aer"
    assert names["builtin.fake_devices"]["descriptions"] == 68
    aer = next(ex for ex in body["executors"] if ex["name"] == "aer")
    assert aer["available"] is True
    assert "simulator.seed_simulator" in aer["honoured_options"]
