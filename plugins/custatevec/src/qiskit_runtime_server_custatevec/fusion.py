"""Gate fusion: fewer, wider gates, so fewer passes over the statevector.

Applying a gate of up to about five qubits costs one read and one write of the whole
statevector on a GPU, whatever its width, so merging neighbouring gates into one matrix of at
most ``max_qubits`` qubits divides the time by the number of gates merged. Fusion is greedy in
circuit order: a gate joins the block being built while the block's qubits stay within
``max_qubits``; a measurement, reset or noise channel closes the block. Sweeps fuse too: a
block containing a parametric gate becomes a stack of one fused matrix per parameter set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .numpy_kernel import apply_to_vectors
from .program import GateOp, Operation, Program


def fuse(program: Program, max_qubits: int) -> Program:
    """The same program with consecutive gates merged up to ``max_qubits`` qubits."""
    if max_qubits < 2:
        return program
    fused: list[Operation] = []
    block: list[GateOp] = []
    qubits: set[int] = set()
    for op in program.operations:
        if isinstance(op, GateOp) and len(qubits | set(op.targets)) <= max_qubits:
            block.append(op)
            qubits |= set(op.targets)
            continue
        fused.extend(_merged(block))
        block, qubits = [], set()
        if isinstance(op, GateOp):
            block, qubits = [op], set(op.targets)
        else:
            fused.append(op)
    fused.extend(_merged(block))
    return dataclasses.replace(program, operations=tuple(fused))


def _merged(block: Sequence[GateOp]) -> list[GateOp]:
    if len(block) <= 1:
        return list(block)
    targets = tuple(sorted({q for op in block for q in op.targets}))
    position = {q: i for i, q in enumerate(targets)}
    dim = 2 ** len(targets)
    size = max(op.matrices.shape[0] for op in block)
    # Row j of `columns` is the fused matrix's column j, a statevector over the block's qubits;
    # each gate acts on all of them, member by member of the sweep.
    columns = np.broadcast_to(np.eye(dim, dtype=np.complex128), (size, dim, dim)).copy()
    for op in block:
        local = [position[q] for q in op.targets]
        flat = columns.reshape(size * dim, dim)
        matrices = np.repeat(op.matrices, dim, axis=0) if op.matrices.shape[0] > 1 else op.matrices
        columns = (
            apply_to_vectors(flat, local, matrices)
            .reshape(size, dim, dim)
            .astype(np.complex128, copy=False)
        )
    return [GateOp(targets, np.ascontiguousarray(np.swapaxes(columns, 1, 2)))]
