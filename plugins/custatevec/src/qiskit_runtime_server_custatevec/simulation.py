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
from qiskit_runtime_server_aer.trajectory_count import shots_per_trajectory

from .kernel import Kernel, Matrices, StateBatch
from .noise import KrausStep, NoiseOp, UnitaryStep
from .numpy_kernel import apply_to_vectors
from .program import GateOp, MeasureOp, Program, ResetOp

_X = np.array([[[0, 1], [1, 0]]], dtype=np.complex128)


class DoesNotFit(MemoryError):
    """Not even one statevector of the program fits in the kernel's free memory."""


@dataclass
class Sweep:
    """How a program's parameter sets were split into batches."""

    batches: int = 0
    largest: int = 0
    #: Trajectories per parameter set of a noisy program (sampler: its shots).
    trajectories: int = 0


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


# -- device noise: one trajectory per shot ---------------------------------------------------

_P0 = np.array([[1, 0], [0, 0]], dtype=np.complex128)
_P1 = np.array([[0, 0], [0, 1]], dtype=np.complex128)
_RESET_FROM_1 = np.array([[0, 1], [0, 0]], dtype=np.complex128)


class Trajectories:
    """Noisy programs (``Program.noisy``) run as quantum trajectories on a kernel, batched: a
    batch holds trajectories of one or several parameter sets side by side, every gate is one
    kernel call for the whole batch (``MATRIX_INDEXED`` where members differ), and every noise
    channel draws each member's branch and Kraus operator from host random numbers (see
    noise.py). Each shot of a sampler job is a trajectory of its own, so the counts sample the
    noisy distribution exactly (up to the model), unless the job asks for K trajectories per
    parameter set (:meth:`sample`)."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.kernel = simulation.kernel

    def _batch(self, program: Program, total: int) -> int:
        fitting = self.kernel.capacity(program.num_qubits)
        if fitting < 1:
            raise DoesNotFit(
                f"a {program.num_qubits}-qubit statevector does not fit in the "
                f"{self.kernel.name} kernel's free memory"
            )
        return max(1, min(total, self.simulation.max_batch, fitting))

    def sample(
        self,
        program: Program,
        shots: int,
        rng: np.random.Generator,
        sweep: Sweep | None = None,
        trajectories: int | None = None,
    ) -> NDArray[np.bool_]:
        """Clbit values of every shot, shape ``(B, shots, num_clbits)``: one trajectory per
        shot, or (``trajectories``: ``options.experimental.trajectories``, trajectory_count.py)
        ``min(K, shots)`` trajectories per parameter set, each one's final state sampled for
        its share of the shots. The shots of a trajectory share its noise events and its
        mid-circuit outcomes; every recorded bit gets its own readout error (:func:`_readouts`).
        Each shot still follows the exact noisy distribution: its trajectory is an exact draw
        of the noise and mid-circuit outcomes, and its final outcome an exact draw from that
        trajectory's final state."""
        sweep = sweep if sweep is not None else Sweep()
        split = shots_per_trajectory(shots, shots if trajectories is None else trajectories)
        k = split.size
        first = np.concatenate([[0], np.cumsum(split)[:-1]]).astype(np.int64)
        out = np.zeros((program.size, shots, program.num_clbits), dtype=np.bool_)
        qubits = list(dict.fromkeys(q for q, _ in program.final_measurements))
        position = {q: bit for bit, q in enumerate(qubits)}
        total = program.size * k
        step = self._batch(program, total) if total else 1
        for start in range(0, total, step):
            stop = min(start + step, total)
            sets = np.arange(start, stop) // k
            states = self.kernel.zeros(program.num_qubits, stop - start)
            mid_circuit = np.zeros((stop - start, program.num_clbits), dtype=np.bool_)
            self._run(program, states, sets, rng, mid_circuit)
            for member, index in enumerate(range(start, stop)):
                parameter_set, j = divmod(index, k)
                rows = out[parameter_set, first[j] : first[j] + split[j]]
                rows[:] = mid_circuit[member]
                if qubits:
                    draws = rng.random(int(split[j]))
                    outcomes = self.kernel.sample(states, member, qubits, draws)
                    for qubit, clbit in program.final_measurements:
                        rows[:, clbit] = (outcomes >> position[qubit]) & 1
            self.kernel.release(states)
            sweep.batches += 1
            sweep.largest = max(sweep.largest, stop - start)
        _readouts(program, out, rng)
        if k < shots:
            # A trajectory's shots come out together; a device's come in no particular order.
            for parameter_set in range(program.size):
                out[parameter_set] = out[parameter_set][rng.permutation(shots)]
        sweep.trajectories = k
        return out

    def expectations(
        self,
        program: Program,
        terms: Sequence[tuple[str, Sequence[int]]],
        trajectories: int,
        rng: np.random.Generator,
        sweep: Sweep | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mean over ``trajectories`` trajectories of each term's exact expectation value, and
        its standard error, each of shape ``(B, len(terms))``."""
        sweep = sweep if sweep is not None else Sweep()
        total = program.size * trajectories
        values = np.empty((total, len(terms)), dtype=np.float64)
        step = self._batch(program, total)
        for start in range(0, total, step):
            stop = min(start + step, total)
            sets = np.arange(start, stop) // trajectories
            states = self.kernel.zeros(program.num_qubits, stop - start)
            no_bits = np.zeros((stop - start, program.num_clbits), dtype=np.bool_)
            self._run(program, states, sets, rng, no_bits)
            with_norm = [("", []), *terms]  # trajectories may be unnormalised: divide by <I>
            for member in range(stop - start):
                measured = self.kernel.pauli_expectations(states, member, with_norm)
                values[start + member] = measured[1:] / measured[0]
            self.kernel.release(states)
            sweep.batches += 1
            sweep.largest = max(sweep.largest, stop - start)
        per_set = values.reshape(program.size, trajectories, len(terms))
        spread = per_set.std(axis=1, ddof=1) if trajectories > 1 else np.zeros_like(per_set[:, 0])
        return per_set.mean(axis=1), spread / np.sqrt(trajectories)

    # -- one batch ---------------------------------------------------------------------------

    def _run(
        self,
        program: Program,
        states: StateBatch,
        sets: NDArray[np.int64],
        rng: np.random.Generator,
        bits: NDArray[np.bool_],
    ) -> None:
        """Every operation of ``program`` on the batch; member ``i`` is a trajectory of
        parameter set ``sets[i]``; mid-circuit measurements write their outcomes to ``bits``
        (before readout errors: the caller applies those to the recorded bits). What an error
        draws is applied with the next gate when that gate's qubits include the error's (one
        pass over the batch instead of two, see :class:`_Pending`)."""
        pending = _Pending(self.kernel, states)
        for op in program.operations:
            if isinstance(op, GateOp):
                matrices = op.matrices if op.matrices.shape[0] == 1 else op.matrices[sets]
                pending.gate(op.targets, matrices)
            elif isinstance(op, NoiseOp):
                self._noise(pending, op, rng)
            else:
                pending.flush()
                outcomes = self._measure(states, op.qubit, rng, reset=isinstance(op, ResetOp))
                if isinstance(op, MeasureOp):
                    bits[:, op.clbit] = outcomes
        pending.flush()

    def _measure(
        self, states: StateBatch, qubit: int, rng: np.random.Generator, reset: bool
    ) -> NDArray[np.bool_]:
        """Measure ``qubit`` in every member (a reset: then set it to 0): one outcome each,
        the state collapsed by a projector scaled by 1/sqrt(p), all members in one call."""
        size = states.size
        # Trajectories may be unnormalised (see KrausStep.sure): <I> is the squared norm.
        p1 = np.empty(size)
        for member in range(size):
            norm, z = self.kernel.pauli_expectations(states, member, [("", []), ("Z", [qubit])])
            p1[member] = (1 - z / norm) / 2
        p1 = p1.clip(0, 1)
        outcomes = rng.random(size) < p1
        stack = np.empty((size, 2, 2), dtype=np.complex128)
        one = _RESET_FROM_1 if reset else _P1
        with np.errstate(divide="ignore"):
            stack[~outcomes] = _P0 / np.sqrt(1 - p1[~outcomes])[:, None, None]
            stack[outcomes] = one / np.sqrt(p1[outcomes])[:, None, None]
        self.kernel.apply_matrix(states, [qubit], stack)
        return outcomes

    def _noise(self, pending: _Pending, op: NoiseOp, rng: np.random.Generator) -> None:
        size = pending.states.size
        choice = np.minimum(
            np.searchsorted(op.cumulative, rng.random(size), side="right"), len(op.branches) - 1
        )
        chosen = np.unique(choice)
        unitary = [c for c in chosen if op.branches[c].unitary and not op.branches[c].identity]
        if unitary:
            d = 2 ** len(op.qubits)
            stack = np.broadcast_to(np.eye(d, dtype=np.complex128), (size, d, d)).copy()
            for c in unitary:
                step = op.branches[c].steps[0]
                assert isinstance(step, UnitaryStep)
                stack[choice == c] = step.matrix[0]
            pending.add(op.qubits, stack)
        # General branches of the same shape (the same kinds of steps on the same qubits: the
        # Pauli part of a depolarizing error composed with one relaxation) run together, one
        # kernel call per step for all their members, each with its own branch's matrices.
        groups: dict[tuple[tuple[str, tuple[int, ...]], ...], list[int]] = {}
        for c in chosen.tolist():
            branch = op.branches[c]
            if not branch.unitary:
                shape = tuple((type(step).__name__, step.targets) for step in branch.steps)
                groups.setdefault(shape, []).append(c)
        for shape, branches in groups.items():
            members = {c: np.flatnonzero(choice == c) for c in branches}
            for position in range(len(shape)):
                steps = {c: op.branches[c].steps[position] for c in branches}
                self._step(pending, steps, members, rng)

    def _step(
        self,
        pending: _Pending,
        steps: dict[int, UnitaryStep | KrausStep],
        members: dict[int, NDArray[np.intp]],
        rng: np.random.Generator,
    ) -> None:
        """Step ``steps[c]`` on the members ``members[c]`` of each branch ``c`` (steps of one
        kind on the same qubits), identity on the other members: one kernel call."""
        if all(isinstance(step, UnitaryStep) and step.identity for step in steps.values()):
            return  # the I of every branch's Pauli: nothing to apply
        states = pending.states
        size = states.size
        targets = next(iter(steps.values())).targets
        d = 2 ** len(targets)
        stack = np.broadcast_to(np.eye(d, dtype=np.complex128), (size, d, d)).copy()
        for c, step in steps.items():
            chosen = members[c]
            if isinstance(step, UnitaryStep):
                stack[chosen] = step.matrix[0]
                continue
            draws = rng.random(len(chosen))
            # Below the bound K_0's probability has in every state: K_0, no norm needed (the
            # trajectory stays unnormalised).
            certain = draws < step.sure
            stack[chosen[certain]] = step.matrices[0]
            uncertain, draws = chosen[~certain], draws[~certain]
            if uncertain.size == 0:
                continue
            # Probabilities of the Kraus operators from the Pauli expectation values of the
            # step's qubits (computed on the device, one call per trajectory); the first term
            # is the squared norm.
            pending.flush()
            expectations = np.array(
                [self.kernel.pauli_expectations(states, m, step.terms) for m in uncertain.tolist()]
            )
            probabilities = (expectations @ step.weights.T).clip(0, None)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            cumulative = np.cumsum(probabilities, axis=1)
            picked = np.minimum(
                (cumulative < draws[:, None]).sum(axis=1), step.matrices.shape[0] - 1
            )
            scale = 1 / np.sqrt(probabilities[np.arange(len(uncertain)), picked])
            stack[uncertain] = step.matrices[picked] * scale[:, None, None]
        pending.add(targets, stack)


class _Pending:
    """Per-member operators an error drew, not applied yet: applied with the next gate when its
    qubits include theirs (the gate's matrix times theirs, one matrix per member), else on
    their own before anything that reads or acts otherwise on the states."""

    def __init__(self, kernel: Kernel, states: StateBatch) -> None:
        self.kernel = kernel
        self.states = states
        self.targets: tuple[int, ...] = ()
        self.stack: Matrices | None = None

    def add(self, targets: tuple[int, ...], stack: Matrices) -> None:
        """``stack[i]`` on ``targets`` of member ``i``, after what is pending."""
        if self.stack is not None and self.targets == targets:
            self.stack = np.matmul(stack, self.stack)
            return
        self.flush()
        self.targets, self.stack = targets, stack

    def flush(self) -> None:
        if self.stack is not None:
            self.kernel.apply_matrix(self.states, self.targets, self.stack)
            self.targets, self.stack = (), None

    def gate(self, targets: tuple[int, ...], matrices: Matrices) -> None:
        """A gate (one matrix for all, or one per member) after what is pending."""
        if self.stack is None or not set(self.targets) <= set(targets):
            self.flush()
            self.kernel.apply_matrix(self.states, targets, matrices)
            return
        size, dim = self.stack.shape[0], 2 ** len(targets)
        # Row j of `columns` is the combined matrix's column j: the basis vector e_j after the
        # pending operator (on its positions among the gate's qubits), then the gate.
        columns = np.broadcast_to(np.eye(dim, dtype=np.complex128), (size, dim, dim))
        local = [targets.index(q) for q in self.targets]
        drawn = apply_to_vectors(
            columns.reshape(size * dim, dim), local, np.repeat(self.stack, dim, axis=0)
        )
        gate = np.repeat(matrices, dim, axis=0) if matrices.shape[0] > 1 else matrices
        both = apply_to_vectors(drawn, list(range(len(targets))), gate)
        combined = np.swapaxes(both.reshape(size, dim, dim), 1, 2)
        self.kernel.apply_matrix(self.states, targets, np.ascontiguousarray(combined))
        self.targets, self.stack = (), None


def _readouts(program: Program, bits: NDArray[np.bool_], rng: np.random.Generator) -> None:
    """Readout errors on the recorded clbits ``bits[..., clbit]`` (every shot's bits
    independently), each clbit with its last measurement's qubit: an outcome a later
    measurement overwrote was never read out (classical control flow, which could read it,
    is refused)."""
    measured_by = {op.clbit: op.qubit for op in program.operations if isinstance(op, MeasureOp)}
    measured_by.update((clbit, qubit) for qubit, clbit in program.final_measurements)
    for clbit, qubit in sorted(measured_by.items()):
        bits[..., clbit] = _readout(bits[..., clbit], program.readout.get(qubit), rng)


def _readout(
    bits: NDArray[np.bool_], flips: tuple[float, float] | None, rng: np.random.Generator
) -> NDArray[np.bool_]:
    """Recorded bits after a readout error ``(P(1|0), P(0|1))`` (None: as measured)."""
    if flips is None:
        return bits
    draws = rng.random(bits.shape)
    return np.where(bits, draws >= flips[1], draws < flips[0])
