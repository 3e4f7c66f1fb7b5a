"""Recording the runs the aer executor hands Aer, for tests of how it splits and seeds them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from qiskit_aer import AerSimulator


@contextmanager
def recorded_runs(shots: int) -> Iterator[list[tuple[int, int, int]]]:
    """Every ``AerSimulator.run`` of ``shots`` shots inside the block, as (experiments, shots,
    seed); runs of other shot counts (the planner's one-shot MPS probe) are left out."""
    calls: list[tuple[int, int, int]] = []
    original = AerSimulator.run

    def spy(self: AerSimulator, circuits: object, **options: int) -> object:
        count = len(circuits) if isinstance(circuits, list) else 1
        if options.get("shots") == shots:
            calls.append((count, options["shots"], options["seed_simulator"]))
        return original(self, circuits, **options)

    with mock.patch.object(AerSimulator, "run", spy):
        yield calls
