"""Building primitive results from raw simulator output, for executors that sample themselves."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.primitives import SamplerPubResult
from qiskit.primitives.containers import BitArray, DataBin


def sampler_pub_result(
    circuit: QuantumCircuit,
    bits: NDArray[np.bool_],
    shape: tuple[int, ...],
    metadata: dict[str, Any],
) -> SamplerPubResult:
    """A SamplerV2 PUB result from the clbit values of every shot (``bits``: parameter sets,
    shots, clbits, in the circuit's clbit order), one ``BitArray`` field per classical register
    of ``circuit``, as Qiskit's and Aer's samplers build them. Clbits outside every register
    are not reported, as there."""
    fields: dict[str, BitArray] = {}
    for register in circuit.cregs:
        columns = [circuit.find_bit(clbit).index for clbit in register]
        array = BitArray.from_bool_array(bits[:, :, columns], order="little")
        fields[register.name] = array.reshape(shape)
    return SamplerPubResult(DataBin(**fields, shape=shape), metadata=metadata)
