"""The engine in its own process: it runs jobs the API announces, and the API never waits on
it (end-to-end behaviour is in tests/e2e)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.state import ServerState


def test_the_api_does_not_wait_on_a_dead_engine_process(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, load_entry_points=False, plugins=["qrs_test_plugins.testkit"]
    )
    state = ServerState.build(settings)
    engine = state.engine
    engine.start()
    try:
        deadline = time.monotonic() + 60
        while engine.alive_workers() == 0:
            assert time.monotonic() < deadline, "the engine process started no worker"
            time.sleep(0.1)
        process = engine._process
        assert process is not None
        process.kill()
        process.join(timeout=10)
        assert engine.alive_workers() == 0
        # Far more than a pipe holds: each must fail at once, not block the request's thread.
        sent = threading.Thread(target=lambda: [engine.notify("testkit") for _ in range(20_000)])
        sent.start()
        sent.join(timeout=30)
        assert not sent.is_alive()
    finally:
        engine.stop()
        state.store.close()
