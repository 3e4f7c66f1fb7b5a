"""Renumbering a circuit's qubits so that a matrix-product-state simulation stays cheap.

An MPS keeps qubits on a line; a two-qubit gate between distant sites costs swaps through
everything in between. A device circuit's qubits are physical indices (on a heavy-hex
device a chain of couplings jumps around the numbering), so the same circuit costs over ten
times more per shot in its own numbering than along its chain. The order chosen here follows
the circuit's interaction graph: along the path when the graph is one (or several), else a
reverse Cuthill-McKee order, which keeps interacting qubits close.

Classical bits are carried over unchanged, so measured bitstrings and ``DataBin`` fields are
exactly those of the original circuit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import reverse_cuthill_mckee


def interaction_edges(circuit: QuantumCircuit) -> set[tuple[int, int]]:
    """Pairs of qubit indices that share a multi-qubit instruction (control flow included)."""
    edges: set[tuple[int, int]] = set()
    _collect_edges(circuit, [circuit.find_bit(q).index for q in circuit.qubits], edges)
    return edges


def _collect_edges(
    circuit: QuantumCircuit, mapping: Sequence[int], edges: set[tuple[int, int]]
) -> None:
    positions = {q: mapping[i] for i, q in enumerate(circuit.qubits)}
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name == "barrier":
            continue
        qubits = [positions[q] for q in instruction.qubits]
        for i, a in enumerate(qubits):
            for b in qubits[i + 1 :]:
                if a != b:
                    edges.add((min(a, b), max(a, b)))
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                _collect_edges(block, qubits, edges)


def chain_order(num_qubits: int, edges: set[tuple[int, int]]) -> list[int]:
    """A qubit order for an MPS: ``order[site] = qubit``."""
    neighbours: dict[int, set[int]] = {q: set() for q in range(num_qubits)}
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    if all(len(n) <= 2 for n in neighbours.values()) and not _has_cycle(neighbours):
        order: list[int] = []
        seen: set[int] = set()
        # Walk each path from one of its ends; isolated qubits are paths of length one.
        for start in sorted(q for q, n in neighbours.items() if len(n) <= 1):
            if start in seen:
                continue
            current: int | None = start
            while current is not None:
                order.append(current)
                seen.add(current)
                current = next((n for n in neighbours[current] if n not in seen), None)
        if len(order) == num_qubits:
            return order
    rows = [a for a, b in edges] + [b for a, b in edges]
    cols = [b for a, b in edges] + [a for a, b in edges]
    graph = csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(num_qubits, num_qubits)
    )
    return [int(q) for q in reverse_cuthill_mckee(graph, symmetric_mode=True)]


def _has_cycle(neighbours: dict[int, set[int]]) -> bool:
    edges = sum(len(n) for n in neighbours.values()) // 2
    components = 0
    seen: set[int] = set()
    for start in neighbours:
        if start in seen:
            continue
        components += 1
        stack = [start]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(neighbours[node] - seen)
    return edges > len(neighbours) - components


def bandwidth(order: Sequence[int], edges: set[tuple[int, int]]) -> int:
    """The largest distance between interacting qubits in this order."""
    site = {qubit: index for index, qubit in enumerate(order)}
    return max((abs(site[a] - site[b]) for a, b in edges), default=0)


def reordered(circuit: QuantumCircuit, order: Sequence[int]) -> QuantumCircuit:
    """The same circuit with qubit ``order[site]`` at index ``site``; classical bits unchanged."""
    qubits = [circuit.qubits[index] for index in order]
    result = QuantumCircuit(qubits, circuit.clbits, *circuit.cregs, name=circuit.name)
    result.global_phase = circuit.global_phase
    result.metadata = circuit.metadata
    for instruction in circuit.data:
        result._append(instruction)
    return result
