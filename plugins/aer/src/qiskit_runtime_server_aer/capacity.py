"""What this host's memory lets each Aer method simulate.

The limits are per method, not the statevector's for every circuit: a 100-qubit GHZ state is
an MPS of bond dimension 2 (a few kilobytes), a 5000-qubit Clifford circuit a stabilizer
tableau, while a 30-qubit statevector already needs 16 GiB. The planner (method.py) applies
these limits per PUB; a PUB that no method fits is refused at submit.

Like Aer's own default memory cap, half of the host's memory is the budget.
"""

from __future__ import annotations

import math
import os
from functools import cache

from qiskit_aer import AerSimulator

#: Bytes per complex128 amplitude.
AMPLITUDE_BYTES = 16
#: Copies of a matrix product state one trajectory holds: the state, and the copy Aer makes of
#: it to compute each Kraus channel's or measurement's probabilities
#: (``MPS::density_matrix_internal``).
MPS_COPIES = 2


#: The largest bond dimension planned, whatever the memory. Time, not memory, bounds it: at 2^8
#: a two-qubit gate's SVD takes tens of milliseconds and a noisy 100-qubit trajectory about a
#: minute; at 2^10 a gate takes seconds (measured: the probe of a random 40-qubit circuit of
#: depth 30 needed 13 minutes to reach 2^10), so such PUBs are refused, not run for days.
MPS_MAX_BOND = 2**8


def memory_budget() -> int:
    """Bytes a simulation may use: half of this host's memory (Aer's default cap)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def statevector_qubit_limit() -> int:
    """Qubits whose complex128 statevector fits the budget."""
    return max(1, int(math.log2(memory_budget() / AMPLITUDE_BYTES)))


def density_matrix_qubit_limit() -> int:
    """Qubits whose complex128 density matrix (a statevector of twice as many) fits."""
    return max(1, statevector_qubit_limit() // 2)


def mps_bond_limit(qubits: int, parallel_states: int) -> int:
    """The largest bond dimension planned: at most :data:`MPS_MAX_BOND`, and at most the one
    at which ``parallel_states`` matrix product states of ``qubits`` sites (trajectories run in
    parallel, each with Aer's working copy) fit the budget (each site holds two chi x chi
    matrices)."""
    per_chi_squared = qubits * 2 * AMPLITUDE_BYTES * MPS_COPIES * max(1, parallel_states)
    return max(1, min(MPS_MAX_BOND, math.isqrt(memory_budget() // per_chi_squared)))


@cache
def stabilizer_qubit_limit() -> int:
    """Aer's own limit for its stabilizer method (10,000 qubits in Aer 0.18): a tableau of n
    qubits takes about n^2 / 2 bytes, far below any host's memory at that width."""
    return int(AerSimulator(method="stabilizer").num_qubits)
