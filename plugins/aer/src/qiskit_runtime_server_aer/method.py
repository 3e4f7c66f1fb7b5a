"""Choosing how Aer simulates a noisy sampler PUB: exact in every case, as fast as it can be.

With a device noise model, every shot of a trajectory method is a separate simulation
(thermal relaxation on qubits with T2 > T1 is a state-dependent Kraus channel), so the cost
is shots x (cost of one run). Three exact methods, chosen per PUB:

* ``density_matrix``: one run of cost 4^n whatever the shot count; cheapest when
  shots >= 2^n and n is small.
* ``matrix_product_state`` along the circuit's chain of couplings (layout.py): a trajectory
  costs about n * chi^3 for bond dimension chi; for shallow or line-like circuits chi stays
  tiny and a 20-qubit noisy job takes seconds. Nothing is truncated: the noise model is the
  full one and Aer's MPS truncation threshold (1e-16) discards only numerical zeros.
* ``statevector``, one trajectory per shot: the fallback when the state is too entangled for an
  MPS. Aer's shot branching (``shot_branching_enable``, with or without
  ``shot_branching_sampling_enable``) is NOT used: with the device noise models it gives wrong
  distributions (GHZ-10 on fake_kolkata, 40,000 shots: P(0000000000) = 0.015 against 0.457 from
  a density matrix, chi-square p = 0; plain statevector trajectories: p = 0.73), and
  tests/plugins/aer/test_methods.py catches it on four circuit families.

The bond dimension is read from a cheap noiseless MPS probe of the first parameter set, capped
just above the largest bond dimension for which MPS would win, so that the probe of a highly
entangled circuit stays cheap too. Noise events can raise a trajectory's bond dimension above
the noiseless one (a noisy mirror circuit does not return to a product state), so the probe is
an estimate, not a bound. Noisy MPS trajectories run batched in NumPy where they can
(mps_batch.py), else in Aer.

Wider than a statevector fits (capacity.py), two methods remain, whatever the device's width:

* ``stabilizer`` for Clifford circuits (clifford.py): noiseless, or with Pauli noise only, that
  is when the job opts into ``pauli_twirl`` (or ``readout_only``); the device's exact noise has
  thermal relaxation, which is not a Pauli channel.
* ``matrix_product_state`` along the couplings, when the probed bond dimension fits this host's
  memory (the probe stops as soon as it reaches that bound).

A PUB that neither fits is refused (:class:`Unplannable`), with each method's reason.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_runtime_server.circuits import active_qubits, without_idle_qubits

from . import capacity
from .clifford import clifford_bindings, for_stabilizer
from .layout import bandwidth, chain_order, interaction_edges, reordered
from .translation import for_method

#: Density matrices of up to this many qubits (4**12 complex128 entries: 268 MB) are used.
DENSITY_MATRIX_MAX_QUBITS = 12
#: Measured on 2 cores (a 20-qubit device circuit): seconds per trajectory and unit of work.
#: MPS: 8 ms for n=20, chi=4; a statevector trajectory: about 0.15 s at n=20.
MPS_SECONDS_PER_SITE_CHI3 = 8e-3 / (20 * 4**3)
STATEVECTOR_SECONDS_PER_AMPLITUDE = 0.15 / 2**20
#: Gate fusion for statevector trajectories. Aer fuses gates only from 14 qubits and into
#: blocks of up to 5 qubits, settings tuned for noiseless runs. In a noisy trajectory every
#: gate is followed by its error (a Kraus channel where T2 > T1), which ends a block, and
#: fusing into at most 3 qubits from any width was faster per trajectory on 2 cores (1024-shot
#: random circuits transpiled to the device, ms per trajectory, Aer's defaults -> these):
#: fake_kolkata 10 qubits 7.8 -> 4.6, 12 qubits 61 -> 19, 16 qubits 200 -> 165, 18 qubits
#: 1773 -> 1267, 20 qubits 6659 -> 6841 (+3%); fake_sherbrooke 13 qubits 125 -> 30, 16 qubits
#: 424 -> 148. Fusion multiplies the same matrices in another order: the result is exact.
TRAJECTORY_FUSION = {"fusion_threshold": 1, "fusion_max_qubit": 3}
#: The probe never needs a larger bond dimension than this to decide.
PROBE_MAX_BOND = 256


@dataclass
class Plan:
    """How one PUB runs, and why (reported in the result metadata)."""

    method: str
    reason: str
    qubits: int
    bond_dimension: int | None = None
    #: MPS only: the physical qubit at each site, and the renumbered circuit.
    physical_order: list[int] = field(default_factory=list)
    circuit: QuantumCircuit | None = None
    #: Noisy MPS only: whether the trajectories run as batches in NumPy (mps_batch.py), not in
    #: Aer; set by the executor once the circuit and its noise model compiled for it.
    batched: bool = False

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "reason": self.reason}
        data["active_qubits"] = self.qubits
        if self.bond_dimension is not None:
            data["bond_dimension"] = self.bond_dimension
        if self.physical_order:
            data["qubit_order"] = self.physical_order
        if self.batched:
            data["trajectories"] = BATCHED_TRAJECTORIES
        return data

    def simulator_options(self, noisy: bool = True) -> dict[str, Any]:
        """Aer's options for the run; ``noisy``: whether the noise has gate errors (without,
        a statevector run is one state sampled, not trajectories)."""
        if self.method == "statevector" and noisy:
            return {"method": self.method, **TRAJECTORY_FUSION}
        return {"method": self.method}

    @property
    def trajectories(self) -> bool:
        """Whether each shot is a trajectory of its own (independent work for threads)."""
        return self.method != "density_matrix"

    def estimated_seconds(
        self, circuit: QuantumCircuit, shots: int, parallel: int, noisy: bool
    ) -> float:
        """A rough estimate of the run's time from the constants measured on 2 cores, for the
        job's log (not a promise): ``noisy`` runs are a trajectory per shot, on ``parallel``
        threads."""
        operations, two_qubit = _operation_counts(circuit)
        n = self.qubits
        if self.method == "matrix_product_state" and self.batched and noisy:
            chi = self.bond_dimension or 1
            per_gate = BATCHED_MPS_SECONDS_PER_GATE[0]
            per_gate += BATCHED_MPS_SECONDS_PER_GATE[1] * chi**2
            per_gate += BATCHED_MPS_SECONDS_PER_GATE[2] * chi**3
            return shots * two_qubit * per_gate / max(1, parallel)
        if self.method == "matrix_product_state":
            chi = self.bond_dimension or 1
            one = operations * n * chi**2 * MPS_SECONDS_PER_OPERATION_SITE_CHI2
            one += two_qubit * chi**3 * MPS_SECONDS_PER_GATE_CHI3
        elif self.method == "stabilizer":
            one = operations * n * STABILIZER_SECONDS_PER_OPERATION_QUBIT
        elif self.method == "density_matrix":
            return operations * 4.0**n * STATEVECTOR_SECONDS_PER_OPERATION_AMPLITUDE
        else:
            one = operations * 2.0**n * STATEVECTOR_SECONDS_PER_OPERATION_AMPLITUDE
        if noisy and self.trajectories:
            return shots * one / max(1, parallel)
        return one


#: What a noisy PUB's run carries: Pauli errors and readout errors only (the ``pauli_twirl`` and
#: ``readout_only`` approximations), or the exact device noise (Kraus channels).
NoiseKind = Literal["pauli", "exact"]
#: At submit, a probe that has run this long stops and the PUB is accepted: the worker plans it
#: again without a time limit and fails the job with the same reasons if no method fits.
SUBMIT_PROBE_SECONDS = 10.0
#: A wide PUB's probe checks its bond dimension after every 1/PROBE_CHUNKS of the two-qubit
#: gates, so that a circuit whose bond dimension reaches the bound early stops early.
PROBE_CHUNKS = 32
#: A plan estimated to take longer than this says so in the job's log (WARNING).
LONG_PLAN_SECONDS = 60.0
#: Measured on 2 cores, Aer 0.18 (bench/run.py wide): a noisy MPS trajectory costs about this
#: per non-virtual instruction, site and chi^2 (Aer copies the whole state for every Kraus
#: channel's and every measurement's probabilities): 1.4 s per trajectory for a 40-qubit
#: brickwork of depth 8 (chi 16, 851 instructions), 38 ms for GHZ-100 (chi 2, about 500).
MPS_SECONDS_PER_OPERATION_SITE_CHI2 = 1.6e-7
#: A two-qubit gate's SVD on an MPS of bond dimension chi: about this times chi^3.
MPS_SECONDS_PER_GATE_CHI3 = 2e-8
#: Noisy MPS trajectories in batches (mps_batch.py), per trajectory and two-qubit gate (the
#: single-qubit gates and channels ride along): a + b chi^2 + c chi^3 seconds. Measured on one
#: thread, 1000 shots on fake_kyiv: GHZ-40 and GHZ-100 (chi 2) 5.6 and 6.0 us, brickworks of
#: 20 qubits x 4 layers (chi 4) 10 us, 30 x 6 (chi 8) 21 us, 40 x 8 (chi 16) 73 us (11 s for
#: the job where Aer's MPS takes 12 minutes); the chi^3 term is the SVD's, for larger chi.
BATCHED_MPS_SECONDS_PER_GATE = (5e-6, 2.6e-7, 2e-9)
#: What a batched plan's metadata says about its trajectories.
BATCHED_TRAJECTORIES = (
    "one per shot, run in batches with the orthogonality centre at each channel "
    "(qiskit-runtime-server's NumPy MPS, not Aer's)"
)
#: A statevector (or density matrix, as a statevector of twice the qubits) update, per
#: instruction and amplitude.
STATEVECTOR_SECONDS_PER_OPERATION_AMPLITUDE = 3e-10
#: A stabilizer update, per instruction and qubit (tableau rows).
STABILIZER_SECONDS_PER_OPERATION_QUBIT = 2e-8


class Unplannable(ValueError):
    """No method can simulate the PUB on this host; the message says why each one fails."""


def largest_useful_bond(qubits: int) -> int:
    """The largest chi for which an MPS trajectory beats a shot-branched statevector."""
    budget = STATEVECTOR_SECONDS_PER_AMPLITUDE * 2**qubits
    return max(1, int((budget / (MPS_SECONDS_PER_SITE_CHI3 * qubits)) ** (1 / 3)))


def largest_batched_bond(circuit: QuantumCircuit, qubits: int) -> int:
    """The largest chi for which a batched MPS trajectory of ``circuit`` (per two-qubit gate:
    :data:`BATCHED_MPS_SECONDS_PER_GATE`) beats a statevector trajectory (per instruction and
    amplitude), at most :data:`PROBE_MAX_BOND`: about 19 for a 16-qubit device circuit, 70
    for a 20-qubit one."""
    operations, two_qubit = _operation_counts(circuit)
    statevector = operations * 2.0**qubits * STATEVECTOR_SECONDS_PER_OPERATION_AMPLITUDE
    a, b, c = BATCHED_MPS_SECONDS_PER_GATE
    chi = 1
    while chi < PROBE_MAX_BOND and two_qubit * (a + b * (chi + 1) ** 2 + c * (chi + 1) ** 3) < (
        statevector
    ):
        chi += 1
    return chi


def parallel_states() -> int:
    """Trajectories Aer may hold at once: one per core of this process (its shots run in
    parallel); the memory bound of an MPS assumes all of them."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def plan_noisy_sampler_pub(pub: SamplerPub, noise: NoiseKind = "exact") -> Plan:
    return plan_noisy(pub.circuit, pub.parameter_values, pub.shots or 0, noise=noise)


def plan_noisy(
    original: QuantumCircuit,
    parameter_values: BindingsArray,
    shots: int,
    also_keep: Iterable[int] = (),
    noise: NoiseKind = "exact",
    deadline: float | None = None,
    relabel: bool = True,
    batched: bool = False,
) -> Plan:
    """The plan for ``shots`` noisy trajectories of ``original``; ``also_keep`` are idle
    qubits that must stay (an estimator measures every qubit its observables touch).
    ``batched``: an MPS plan's trajectories will run batched (mps_batch.py), which makes MPS
    the cheaper method up to a larger bond dimension.
    ``deadline`` (``time.monotonic()``): when the probe would run past it, the plan is
    whatever fits the bound reached so far (the submit-time check). ``relabel=False`` (a
    user's noise model, which names the circuit's own qubits): a wide PUB's MPS keeps the
    circuit's qubit order (Aer swaps distant qubits next to each other).
    Raises :class:`Unplannable` when no method fits this host."""
    also_keep = set(also_keep)
    qubits = len(set(active_qubits(original)) | also_keep)
    if qubits <= DENSITY_MATRIX_MAX_QUBITS and shots >= 2**qubits:
        return Plan(
            "density_matrix",
            f"{qubits} active qubits and {shots} shots >= 2^{qubits}: one exact density-matrix "
            "run costs less than a trajectory per shot",
            qubits,
        )
    wide = qubits > capacity.statevector_qubit_limit()
    clifford, not_clifford = False, ""
    if noise != "exact" or wide:
        clifford, not_clifford = clifford_bindings(original, parameter_values)
    if clifford and noise != "exact":
        return Plan(
            "stabilizer",
            f"{qubits} active qubits; a Clifford circuit with Pauli noise only (the noise "
            "approximation): exact stabilizer trajectories",
            qubits,
            circuit=for_stabilizer(original),
        )
    if wide:
        if clifford:
            not_clifford = (
                "the device's exact noise is not Pauli noise (thermal relaxation); options."
                "experimental.noise_approximation='pauli_twirl' runs Clifford circuits on it"
            )
        return _wide_plan(
            original, parameter_values, qubits, also_keep, not_clifford, deadline,
            parallel_states(), relabel,
        )  # fmt: skip
    limit = largest_useful_bond(qubits)
    if batched:
        limit = max(limit, largest_batched_bond(original, qubits))
    if limit < 2:
        return Plan(
            "statevector",
            f"{qubits} active qubits: a statevector trajectory is cheaper than any useful MPS",
            qubits,
        )
    circuit, keep = without_idle_qubits(original, also_keep)
    edges = interaction_edges(circuit)
    order = chain_order(qubits, edges)
    relabelled = reordered(circuit, order)
    cap = min(limit + 1, PROBE_MAX_BOND)
    chi = probe_bond_dimension(relabelled, parameter_values, cap).bond_dimension
    physical = [keep[index] for index in order]
    if chi <= limit:
        return Plan(
            "matrix_product_state",
            f"{qubits} active qubits renumbered along the circuit's couplings (largest gate "
            f"distance {bandwidth(order, edges)}); the noiseless state has bond dimension {chi}, "
            f"so an exact MPS trajectory is cheaper than a statevector one (up to {limit})",
            qubits,
            bond_dimension=chi,
            physical_order=physical,
            circuit=relabelled,
        )
    return Plan(
        "statevector",
        f"{qubits} active qubits; the state's bond dimension exceeds {limit} even along the "
        "circuit's couplings, so exact statevector trajectories are cheaper",
        qubits,
        bond_dimension=None,
    )


def plan_noiseless(
    original: QuantumCircuit,
    parameter_values: BindingsArray,
    also_keep: Iterable[int] = (),
    deadline: float | None = None,
) -> Plan:
    """The plan for a noiseless PUB wider than a statevector fits (narrower ones run on Aer's
    automatic method, which picks the stabilizer method itself for circuits in its Clifford
    instructions): the stabilizer method for any Clifford circuit, else an MPS that fits.
    Raises :class:`Unplannable` when neither does."""
    also_keep = set(also_keep)
    qubits = len(set(active_qubits(original)) | also_keep)
    clifford, not_clifford = clifford_bindings(original, parameter_values)
    if clifford:
        return Plan(
            "stabilizer",
            f"{qubits} active qubits; a Clifford circuit: exact stabilizer simulation",
            qubits,
            circuit=for_stabilizer(original),
        )
    return _wide_plan(original, parameter_values, qubits, also_keep, not_clifford, deadline, 1)


def _wide_plan(
    original: QuantumCircuit,
    parameter_values: BindingsArray,
    qubits: int,
    also_keep: set[int],
    not_clifford: str,
    deadline: float | None,
    parallel: int,
    relabel: bool = True,
) -> Plan:
    """A PUB wider than a statevector fits: an MPS whose bond dimension fits the memory, or
    a refusal that says why each method fails."""
    source = for_method(original, "matrix_product_state")
    circuit, keep = without_idle_qubits(source, also_keep)
    edges = interaction_edges(circuit)
    order = chain_order(qubits, edges) if relabel else list(range(qubits))
    relabelled = reordered(circuit, order)
    fits = capacity.mps_bond_limit(qubits, parallel)
    probe = probe_bond_dimension(relabelled, parameter_values, fits + 1, deadline, PROBE_CHUNKS)
    if probe.bond_dimension <= fits:
        checked = "" if probe.complete else f" in the first {probe.two_qubit_gates_done} of "
        checked += f"{probe.two_qubit_gates} two-qubit gates" if checked else ""
        ordered = "renumbered along the circuit's couplings" if relabel else "in its own order"
        return Plan(
            "matrix_product_state",
            f"{qubits} active qubits, more than a statevector fits on this host "
            f"({capacity.statevector_qubit_limit()}); {ordered} (largest gate distance "
            f"{bandwidth(order, edges)}), the noiseless state has bond dimension "
            f"{probe.bond_dimension}{checked}, within the {fits} planned",
            qubits,
            bond_dimension=probe.bond_dimension,
            physical_order=[keep[index] for index in order] if relabel else [],
            circuit=relabelled if relabel else source,
        )
    budget = capacity.memory_budget() / 2**30
    statevector = capacity.statevector_qubit_limit()
    reasons = [
        f"statevector: {qubits} qubits need 2^{qubits + 4} bytes, and this host's budget "
        f"(half its memory, {budget:.1f} GiB) fits {statevector} qubits",
        f"density_matrix: {qubits} qubits need 2^{2 * qubits + 4} bytes "
        f"(it fits {capacity.density_matrix_qubit_limit()} qubits)",
        f"stabilizer: {not_clifford}",
        f"matrix_product_state: the bond dimension reaches {fits + 1} after "
        f"{probe.two_qubit_gates_done} of the circuit's {probe.two_qubit_gates} two-qubit gates "
        f"(renumbered along its couplings), beyond the {fits} planned for {qubits} qubits and "
        f"{parallel} parallel {'trajectories' if parallel > 1 else 'state'} ({_bond_bound(fits)})",
    ]
    raise Unplannable(
        f"no simulation method fits {qubits} active qubits on this host: " + "; ".join(reasons)
    )


def _bond_bound(fits: int) -> str:
    if fits == capacity.MPS_MAX_BOND:
        return "the largest planned on any host: beyond it each gate takes seconds"
    return "the most that fits this host's memory"


@dataclass(frozen=True)
class Probe:
    """What a bond-dimension probe measured."""

    #: The largest bond dimension, or the cap when it reached it.
    bond_dimension: int
    two_qubit_gates_done: int
    two_qubit_gates: int

    @property
    def complete(self) -> bool:
        return self.two_qubit_gates_done == self.two_qubit_gates


def probe_bond_dimension(
    circuit: QuantumCircuit,
    parameter_values: BindingsArray,
    cap: int,
    deadline: float | None = None,
    chunks: int = 1,
) -> Probe:
    """The largest bond dimension of the noiseless MPS after the circuit's unitary part
    (measurements, resets and control flow left out), with the first parameter set; ``cap``
    when it reaches the cap. With ``chunks`` > 1 (wide PUBs, whose cap costs seconds per gate)
    it runs in that many chunks of two-qubit gates and stops at the first chunk that reaches
    ``cap``, or past ``deadline`` (the bond dimension so far, not complete); a narrow PUB's
    probe is one run."""
    bound = circuit
    if circuit.num_parameters:
        bound = parameter_values.bind_all(circuit).ravel()[0]
    unitary = []
    for instruction in bound.data:
        operation = instruction.operation
        if operation.name in ("measure", "reset", "barrier", "delay") or instruction.clbits:
            continue
        if isinstance(operation, ControlFlowOp):
            continue
        unitary.append(instruction)
    two_qubit = sum(1 for instruction in unitary if len(instruction.qubits) > 1)
    per_chunk = max(1, math.ceil(two_qubit / chunks))
    simulator = AerSimulator(
        method="matrix_product_state",
        matrix_product_state_max_bond_dimension=cap,
        max_parallel_threads=1,
    )
    state: Any = None
    chi, done, position = 1, 0, 0
    while True:
        probe = QuantumCircuit(bound.qubits)
        if state is not None:
            probe.set_matrix_product_state(state)
        in_chunk = 0
        while position < len(unitary) and in_chunk < per_chunk:
            instruction = unitary[position]
            probe._append(instruction)
            in_chunk += len(instruction.qubits) > 1
            position += 1
        done += in_chunk
        probe.save_matrix_product_state(label="mps")
        state = simulator.run(probe, shots=1).result().data(0)["mps"]
        chi = max(chi, max((len(values) for values in state[1]), default=1))
        if chi >= cap or position >= len(unitary):
            return Probe(min(chi, cap), done, two_qubit)
        if deadline is not None and time.monotonic() > deadline:
            return Probe(chi, done, two_qubit)


def _operation_counts(circuit: QuantumCircuit) -> tuple[int, int]:
    """Instructions that cost a simulator work (``rz`` is a phase, barriers nothing), and
    how many of them act on two or more qubits."""
    operations = two_qubit = 0
    for instruction in circuit.data:
        operation = instruction.operation
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                inner, inner_two = _operation_counts(block)
                operations, two_qubit = operations + inner, two_qubit + inner_two
            continue
        if operation.name in ("rz", "barrier", "delay", "id"):
            continue
        operations += 1
        two_qubit += len(instruction.qubits) > 1
    return operations, two_qubit


def relabel_observable(
    observable: dict[str, float], physical_order: list[int], width: int
) -> dict[str, float]:
    """An observable on ``width`` qubits as it reads on the renumbered circuit, where site
    ``s`` holds qubit ``physical_order[s]`` (labels are little-endian strings). Qubits left
    out must carry only I."""
    sites = len(physical_order)
    relabelled: dict[str, float] = {}
    for label, coeff in observable.items():
        new = "".join(label[width - 1 - physical_order[site]] for site in reversed(range(sites)))
        relabelled[new] = relabelled.get(new, 0.0) + coeff
    return relabelled
