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
entangled circuit stays cheap too. Local noise events (Kraus jumps, resets) never raise the
bond dimension, so the probe bounds the noisy trajectories'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_runtime_server.circuits import active_qubits, without_idle_qubits

from .layout import bandwidth, chain_order, interaction_edges, reordered

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

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "reason": self.reason}
        data["active_qubits"] = self.qubits
        if self.bond_dimension is not None:
            data["bond_dimension"] = self.bond_dimension
        if self.physical_order:
            data["qubit_order"] = self.physical_order
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


def largest_useful_bond(qubits: int) -> int:
    """The largest chi for which an MPS trajectory beats a shot-branched statevector."""
    budget = STATEVECTOR_SECONDS_PER_AMPLITUDE * 2**qubits
    return max(1, int((budget / (MPS_SECONDS_PER_SITE_CHI3 * qubits)) ** (1 / 3)))


def plan_noisy_sampler_pub(pub: SamplerPub) -> Plan:
    return plan_noisy(pub.circuit, pub.parameter_values, pub.shots or 0)


def plan_noisy(
    original: QuantumCircuit,
    parameter_values: BindingsArray,
    shots: int,
    also_keep: Iterable[int] = (),
) -> Plan:
    """The plan for ``shots`` noisy trajectories of ``original``; ``also_keep`` are idle
    qubits that must stay (an estimator measures every qubit its observables touch)."""
    also_keep = set(also_keep)
    qubits = len(set(active_qubits(original)) | also_keep)
    if qubits <= DENSITY_MATRIX_MAX_QUBITS and shots >= 2**qubits:
        return Plan(
            "density_matrix",
            f"{qubits} active qubits and {shots} shots >= 2^{qubits}: one exact density-matrix "
            "run costs less than a trajectory per shot",
            qubits,
        )
    limit = largest_useful_bond(qubits)
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
    chi = probe_bond_dimension(relabelled, parameter_values, cap)
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


def probe_bond_dimension(circuit: QuantumCircuit, parameter_values: BindingsArray, cap: int) -> int:
    """The largest bond dimension of the noiseless MPS after the circuit's unitary part
    (measurements, resets and control flow left out), with the first parameter set; ``cap``
    when it reaches the cap."""
    bound = circuit
    if circuit.num_parameters:
        bound = parameter_values.bind_all(circuit).ravel()[0]
    probe = QuantumCircuit(bound.qubits)
    for instruction in bound.data:
        operation = instruction.operation
        if operation.name in ("measure", "reset", "barrier", "delay") or instruction.clbits:
            continue
        if isinstance(operation, ControlFlowOp):
            continue
        probe._append(instruction)
    probe.save_matrix_product_state(label="mps")
    simulator = AerSimulator(
        method="matrix_product_state",
        matrix_product_state_max_bond_dimension=cap,
        max_parallel_threads=1,
    )
    _, lambdas = simulator.run(probe, shots=1).result().data(0)["mps"]
    return max((len(values) for values in lambdas), default=1)


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
