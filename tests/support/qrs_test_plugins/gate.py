"""The test side of the testkit executor's gate (see testkit.py)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


class Gate:
    """Holds ``testkit`` jobs whose circuits have ``metadata={"testkit": "gate"}``."""

    def __init__(self) -> None:
        self.directory = Path(os.environ["QRS_TEST_GATE_DIR"])
        self.directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        (self.directory / "open").unlink(missing_ok=True)
        shutil.rmtree(self.directory / "started", ignore_errors=True)

    def open(self) -> None:
        (self.directory / "open").touch()

    def started(self) -> set[str]:
        started = self.directory / "started"
        return {p.name for p in started.iterdir()} if started.exists() else set()

    def wait_started(self, job_ids: set[str], timeout: float = 60) -> None:
        """Wait until every job in ``job_ids`` is running at the gate."""
        deadline = time.monotonic() + timeout
        while not job_ids <= self.started():
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs {job_ids - self.started()} did not reach the gate")
            time.sleep(0.02)
