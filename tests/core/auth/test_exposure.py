"""No keys means loopback only, unless the operator says otherwise."""

from __future__ import annotations

from pathlib import Path

from qiskit_runtime_server.auth.exposure import is_loopback, refusal
from qiskit_runtime_server.settings import Settings


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.4", "example.org"))


def test_public_bind_without_keys_is_refused(tmp_path: Path) -> None:
    assert refusal(Settings(host="127.0.0.1")) is None
    message = refusal(Settings(host="0.0.0.0"))
    assert message
    assert "keys create" in message
    assert "--allow-anonymous" in message
    assert refusal(Settings(host="0.0.0.0", allow_anonymous=True)) is None
    keys = tmp_path / "keys.toml"
    assert "does not exist" in (refusal(Settings(host="0.0.0.0", api_keys_file=keys)) or "")
    keys.write_text("")
    assert refusal(Settings(host="0.0.0.0", api_keys_file=keys)) is None
