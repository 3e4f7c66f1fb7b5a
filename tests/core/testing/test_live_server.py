"""The test server's port choice."""

from __future__ import annotations

import socket

from qiskit_runtime_server.testing.live_server import _ephemeral_ports, free_port


def test_free_port_is_bindable_and_never_one_an_outgoing_connection_could_take() -> None:
    ephemeral = _ephemeral_ports()
    for _ in range(20):
        port = free_port()
        assert port not in ephemeral
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
