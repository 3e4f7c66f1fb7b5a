"""Running programs on a kernel: statevectors, samples and expectation values.

Parameter sweeps run as batches of statevectors, as many side by side as the kernel's free
memory (and ``Settings.max_batch``) allows. Random numbers come from one host generator per job,
drawn in a fixed order, so a seed reproduces the job exactly on any kernel.

Mid-circuit measurements and resets split the shots instead of simulating each shot: at such a
step the shots still on a branch are divided among the outcomes by a multinomial draw with the
outcome probabilities, each outcome continues on its own collapsed copy of the statevector
(depth first, so at most one pending copy per nesting level is alive), and the final measurements of
each branch are sampled from its final statevector. This is exact: every shot follows the
distribution of a shot-by-shot simulation, at the cost of one statevector pass per distinct
branch rather than per shot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .kernel import Kernel, StateBatch
from .program import GateOp, MeasureOp, Program, ResetOp

_X = np.array([[[0, 1], [1, 0]]], dtype=np.complex128)


class DoesNotFit(MemoryError):
    """Not even one statevector of the program fits in the kernel's free memory."""


@dataclass
class Sweep:
    """How a program's parameter sets were split into batches."""

    batches: int = 0
    largest: int = 0


class Simulation:
    def __init__(self, kernel: Kernel, max_batch: int = 1024) -> None:
        self.kernel = kernel
        self.max_batch = max_batch

    def batch_size(self, program: Program, reserve: int = 0) -> int:
        """Statevectors of ``program`` to simulate side by side, keeping room for ``reserve``
        more (branch copies)."""
        fitting = self.kernel.capacity(program.num_qubits) - reserve
        if fitting < 1:
            raise DoesNotFit(
                f"a {program.num_qubits}-qubit statevector does not fit in the "
                f"{self.kernel.name} kernel's free memory"
            )
        return max(1, min(program.size, self.max_batch, fitting))

    def evolve(self, program: Program, start: int, stop: int) -> StateBatch:
        states = self.kernel.zeros(program.num_qubits, stop - start)
        for op in program.operations:
            if not isinstance(op, GateOp):
                raise AssertionError("static evolution met a measurement or reset")
            self.kernel.apply_matrix(states, op.targets, op.for_members(start, stop))
        return states

    def statevectors(self, program: Program) -> NDArray[np.complex128]:
        """Every parameter set's final statevector (global phase included), shape
        ``(B, 2**n)``. For tests and the self-check: a statevector is not a job result."""
        if program.dynamic or program.final_measurements:
            raise ValueError("statevectors exist only for circuits without measurements")
        out = np.empty((program.size, 2**program.num_qubits), dtype=np.complex128)
        step = self.batch_size(program)
        for start in range(0, program.size, step):
            stop = min(start + step, program.size)
            states = self.evolve(program, start, stop)
            out[start:stop] = self.kernel.to_host(states)
            self.kernel.release(states)
        phase = np.broadcast_to(program.global_phase, (program.size,))
        phased: NDArray[np.complex128] = out * np.exp(1j * phase)[:, None]
        return phased

    # -- sampling ----------------------------------------------------------------------------

    def sample(
        self, program: Program, shots: int, rng: np.random.Generator, sweep: Sweep | None = None
    ) -> NDArray[np.bool_]:
        """Clbit values of every shot: shape ``(B, shots, num_clbits)``."""
        out = np.zeros((program.size, shots, program.num_clbits), dtype=np.bool_)
        sweep = sweep if sweep is not None else Sweep()
        if program.dynamic:
            self.batch_size(program, reserve=1)  # fails early when a branch copy cannot fit
            for member in range(program.size):
                out[member] = self._sample_dynamic(program, member, shots, rng)
            sweep.batches, sweep.largest = program.size, 1
            return out
        step = self.batch_size(program)
        for start in range(0, program.size, step):
            stop = min(start + step, program.size)
            states = self.evolve(program, start, stop)
            for member in range(stop - start):
                no_bits = np.zeros((shots, program.num_clbits), dtype=np.bool_)
                out[start + member] = self._final(program, states, member, shots, rng, no_bits)
            self.kernel.release(states)
            sweep.batches += 1
            sweep.largest = max(sweep.largest, stop - start)
        return out

    def _final(
        self,
        program: Program,
        states: StateBatch,
        member: int,
        shots: int,
        rng: np.random.Generator,
        bits: NDArray[np.bool_],
    ) -> NDArray[np.bool_]:
        """``bits`` (the branch's clbits so far) with the final measurements sampled in."""
        if not program.final_measurements:
            return bits
        qubits = list(dict.fromkeys(q for q, _ in program.final_measurements))
        position = {q: k for k, q in enumerate(qubits)}
        outcomes = self.kernel.sample(states, member, qubits, rng.random(shots))
        for qubit, clbit in program.final_measurements:
            bits[:, clbit] = (outcomes >> position[qubit]) & 1
        return bits

    def _sample_dynamic(
        self, program: Program, member: int, shots: int, rng: np.random.Generator
    ) -> NDArray[np.bool_]:
        """Depth first over the branches, with an explicit stack (circuits may hold thousands
        of mid-circuit measurements): each entry is a statevector that owns its memory, the
        index of its next operation, its shots and its clbits so far."""
        operations = program.operations
        parts: list[NDArray[np.bool_]] = []
        clbits = np.zeros(program.num_clbits, dtype=np.bool_)
        stack = [(self.kernel.zeros(program.num_qubits, 1), 0, shots, clbits)]
        while stack:
            states, index, count, clbits = stack.pop()
            while index < len(operations) and isinstance(operations[index], GateOp):
                op = operations[index]
                assert isinstance(op, GateOp)
                self.kernel.apply_matrix(states, op.targets, op.for_members(member, member + 1))
                index += 1
            if index == len(operations):
                bits = np.broadcast_to(clbits, (count, program.num_clbits)).copy()
                parts.append(self._final(program, states, 0, count, rng, bits))
                self.kernel.release(states)
                continue
            op = operations[index]
            assert isinstance(op, MeasureOp | ResetOp)
            probabilities = self.kernel.probabilities(states, 0, [op.qubit])
            probabilities = probabilities / probabilities.sum()
            counts = rng.multinomial(count, probabilities)
            outcomes = [outcome for outcome in (0, 1) if counts[outcome] > 0]
            for position, outcome in enumerate(outcomes):
                last = position == len(outcomes) - 1
                branch = states if last else self.kernel.copy(states, 0)
                self.kernel.collapse(branch, 0, [op.qubit], outcome, float(probabilities[outcome]))
                branch_clbits = clbits.copy()
                if isinstance(op, MeasureOp):
                    branch_clbits[op.clbit] = bool(outcome)
                elif outcome == 1:  # a reset that read 1
                    self.kernel.apply_matrix(branch, [op.qubit], _X)
                stack.append((branch, index + 1, int(counts[outcome]), branch_clbits))
        bits = np.concatenate(parts) if parts else np.zeros((0, program.num_clbits), np.bool_)
        # Branches come out grouped; shots of a real device come in no particular order.
        return bits[rng.permutation(shots)]

    # -- expectation values ------------------------------------------------------------------

    def expectations(
        self,
        program: Program,
        terms: Sequence[tuple[str, Sequence[int]]],
        sweep: Sweep | None = None,
    ) -> NDArray[np.float64]:
        """``<P>`` of every term for every parameter set: shape ``(B, len(terms))``."""
        if program.dynamic or program.final_measurements:
            raise ValueError("expectation values need a circuit without measurements")
        out = np.empty((program.size, len(terms)), dtype=np.float64)
        sweep = sweep if sweep is not None else Sweep()
        step = self.batch_size(program)
        for start in range(0, program.size, step):
            stop = min(start + step, program.size)
            states = self.evolve(program, start, stop)
            for member in range(stop - start):
                out[start + member] = self.kernel.pauli_expectations(states, member, terms)
            self.kernel.release(states)
            sweep.batches += 1
            sweep.largest = max(sweep.largest, stop - start)
        return out
