"""Exact noisy trajectories of a matrix product state, a whole batch of shots at a time.

Why not Aer's MPS method: with a noise model, every shot is a trajectory of its own, and for
every Kraus channel (thermal relaxation where T2 > T1) and every measured qubit Aer copies the
whole state to compute the branch probabilities (``MPS::density_matrix_internal``): about
0.85 ms per channel at 40 qubits, 12 minutes for a 1000-shot 40-qubit brickwork of depth 8
on fake_kyiv. Here the trajectories of a PUB advance together as arrays of shape
``(trajectories, left bond, 2, right bond)`` per site, kept in mixed-canonical form, so that:

* a channel's branch probabilities need only the reduced density matrix of the sites it acts
  on, read from the orthogonality centre (``Tr(K^dagger K rho)``), never a copy of the state;
* all single-qubit gates and their errors between two two-qubit gates on a qubit compose into
  one channel (at most 4 Kraus operators, exact), sampled when the next two-qubit gate brings
  the centre to that qubit;
* a two-qubit gate's error is sampled as Aer samples it: one circuit of the error's mixture
  (no norms needed), then that circuit's instructions in order, Kraus ones with their
  probabilities from the state. Every instruction stays a one-qubit or Pauli operation, so
  noise never raises the bond dimension beyond what the gates do;
* a gate between distant sites swaps one qubit next to the other and back, as Aer does;
* the final measurements are sampled site by site from the left, the unmeasured sites
  measured too and their bits discarded (which is the partial trace), and the device's readout
  errors flip the sampled bits.

Nothing is truncated but numerical zeros (squared singular values below ``1e-16`` of the
total, as Aer's MPS), and every channel is sampled with its exact probabilities: each shot is
an exact sample of the noisy circuit's outcome distribution, as with Aer
(tests/plugins/aer/test_mps_batch.py compares both with a density matrix).

What runs here: circuits of one- and two-qubit gates whose measurements are all final, without
resets, delays or control flow (the planner's renumbering along the couplings keeps most
two-qubit gates between neighbouring sites), and noise models made of local gate errors
on one or two qubits and single-qubit readout errors (a device's). Anything else raises
:class:`Unsupported` and runs on Aer as before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Gate
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.quantum_info import Kraus
from qiskit_aer.noise import NoiseModel, QuantumError

from . import capacity
from .trajectories import readout_flips, split_final_measurements

#: Complex arrays (NumPy's matmul and einsum do not keep the dtype in their types).
Array = NDArray[Any]

#: Squared singular values below this fraction of the state's norm are numerical zeros
#: (Aer's MPS truncation threshold).
ZERO_SINGULAR_VALUE = 1e-16
#: Copies of the batch the arithmetic holds at its peak (the state, a two-site tensor and the
#: SVD's factors), for the memory bound of a batch.
WORKING_COPIES = 4
#: Trajectories advanced together: large enough that NumPy's per-call overhead is small next to
#: the arithmetic, small enough that a 1000-shot PUB gives two threads a batch each.
BATCH_TRAJECTORIES = 500
#: The SWAP gate (the same in either qubit order).
SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)
#: Instructions that are not operations on the state.
IGNORED_INSTRUCTIONS = frozenset({"barrier"})


class Unsupported(ValueError):
    """Why a circuit or noise model cannot run here (Aer's MPS method runs it instead)."""


@dataclass(frozen=True)
class Channel:
    """A channel on one site or two neighbouring sites, as Kraus operators ``(k, d, d)``
    (``d`` = 2 or 4, two sites ordered left to right). ``weights``: set when the channel is
    a mixture of unitaries (``kraus`` then holds the unitaries), which is sampled from these
    fixed probabilities without reading the state."""

    kraus: Array
    weights: NDArray[np.float64] | None = None

    @property
    def is_unitary(self) -> bool:
        return self.weights is not None and len(self.kraus) == 1


@dataclass(frozen=True)
class ErrorOperation:
    """One instruction of an error circuit: a channel on ``positions`` (0: the gate's left
    site, 1: its right site; both: a two-site operation ordered left to right)."""

    positions: tuple[int, ...]
    channel: Channel


@dataclass(frozen=True)
class GateError:
    """A two-qubit gate's error as Aer holds it: a mixture of circuits."""

    probabilities: NDArray[np.float64]
    circuits: list[list[ErrorOperation]]


@dataclass(frozen=True)
class TwoSiteStep:
    """A two-qubit gate on sites ``site`` and ``site + 1``: first the pending single-qubit
    channels of both sites (left, right), then the gate (4x4, left site most significant),
    then its error."""

    site: int
    before: tuple[Channel | None, Channel | None]
    gate: Array
    error: GateError | None


@dataclass
class CompiledCircuit:
    """A bound circuit as the batch runs it."""

    sites: int
    steps: list[TwoSiteStep]
    #: The channel of each site's single-qubit operations after its last two-qubit gate.
    final: list[Channel | None]
    #: (site, clbit) of each final measurement.
    measurements: list[tuple[int, int]]
    num_clbits: int
    #: Per measured site: P(read 1 | 0) and P(read 0 | 1).
    flips: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 2)))
    measured_sites: list[int] = field(default_factory=list)


def check_noise(noise: NoiseModel | None) -> None:
    """Raises :class:`Unsupported` unless ``noise`` is made of what the batch samples."""
    if noise is None:
        return
    if getattr(noise, "_nonlocal_quantum_errors", None):
        raise Unsupported("the noise model has non-local errors")
    if "measure" in noise._local_quantum_errors or "measure" in noise._default_quantum_errors:
        raise Unsupported("the noise model has quantum errors on measure")
    readouts = list(noise._local_readout_errors)
    if any(len(qubits) != 1 for qubits in readouts):
        raise Unsupported("the noise model has correlated readout errors")
    default = noise._default_readout_error
    if default is not None and default.number_of_qubits != 1:
        raise Unsupported("the noise model has correlated readout errors")


def compile_circuit(circuit: QuantumCircuit, noise: NoiseModel | None) -> CompiledCircuit:
    """``circuit`` (bound, its qubits the MPS sites) with ``noise``'s errors, as steps."""
    try:
        unitary, measurements = split_final_measurements(circuit)
    except ValueError:
        raise Unsupported(
            "the circuit has a reset, control flow or a measurement that is not final"
        ) from None
    sites = circuit.num_qubits
    errors: dict[tuple[int, tuple[int, ...]], GateError] = {}
    channels: dict[Any, Channel] = {}
    pending: list[NDArray[np.complex128] | None] = [None] * sites  # superoperators
    steps: list[TwoSiteStep] = []
    superops = _SuperopCache()
    for instruction in unitary.data:
        operation = instruction.operation
        name = operation.name
        if name in IGNORED_INSTRUCTIONS:
            continue
        _check_instruction(operation, len(instruction.qubits))
        qubits = tuple(unitary.find_bit(q).index for q in instruction.qubits)
        try:
            matrix = np.asarray(operation.to_matrix(), dtype=np.complex128)
        except Exception:
            raise Unsupported(f"{name} has no matrix") from None
        error = _gate_error(noise, name, qubits)
        if len(qubits) == 1:
            site = qubits[0]
            step = superops.unitary(matrix)
            if error is not None:
                step = superops.error(error) @ step
            pending[site] = step if pending[site] is None else step @ pending[site]
            continue
        low, high = sorted(qubits)
        # A gate between distant sites: the higher qubit is swapped down next to the lower
        # one, the gate applied there, and the qubit swapped back (as Aer's MPS does). The
        # pending channels of the qubits passed are applied before their swap.
        for site in range(high - 1, low, -1):
            right = pending[high] if site == high - 1 else None
            steps.append(TwoSiteStep(site, (_channel(pending[site]), _channel(right)), SWAP, None))
            pending[site] = None
        if high - low > 1:
            pending[high] = None
        beside = tuple(low if qubit == low else low + 1 for qubit in qubits)
        steps.append(
            TwoSiteStep(
                site=low,
                before=(_channel(pending[low]), _channel(pending[high])),
                gate=_in_site_order(matrix, beside),
                error=None if error is None else _cached_error(error, beside, errors, channels),
            )
        )
        pending[low] = pending[high] = None
        for site in range(low + 1, high):
            steps.append(TwoSiteStep(site, (None, None), SWAP, None))
    compiled = CompiledCircuit(
        sites=sites,
        steps=_nearest_first(steps, sites),
        final=[_channel(superop) for superop in pending],
        measurements=measurements,
        num_clbits=circuit.num_clbits,
    )
    compiled.measured_sites = sorted({site for site, _ in measurements})
    if noise is not None:
        compiled.flips = readout_flips(noise, compiled.measured_sites)
    else:
        compiled.flips = np.zeros((len(compiled.measured_sites), 2))
    return compiled


def supports(circuit: QuantumCircuit) -> bool:
    """Whether ``circuit`` can run here with a device's noise model (the planner's question,
    before any matrix is built): final measurements only, gates on one or two qubits."""
    try:
        unitary, _ = split_final_measurements(circuit)
        for instruction in unitary.data:
            if instruction.operation.name not in IGNORED_INSTRUCTIONS:
                _check_instruction(instruction.operation, len(instruction.qubits))
    except ValueError:  # Unsupported, or split_final_measurements' own refusal
        return False
    return True


def _check_instruction(operation: Any, qubits: int) -> None:
    name = operation.name
    if isinstance(operation, ControlFlowOp) or name in ("reset", "delay"):
        raise Unsupported(f"the circuit has a {name}")
    if not isinstance(operation, Gate):
        raise Unsupported(f"the circuit has a {name} instruction")
    if qubits > 2:
        raise Unsupported(f"{name} acts on {qubits} qubits")


def compile_pub(
    circuit: QuantumCircuit, parameter_values: BindingsArray, noise: NoiseModel | None
) -> list[CompiledCircuit]:
    """Every parameter set's bound circuit as the batch runs it (one per set, in the C order
    of the parameter values' shape); raises :class:`Unsupported` before anything runs."""
    check_noise(noise)
    bound: list[QuantumCircuit] = [circuit] * parameter_values.size
    if circuit.num_parameters:
        bound = list(parameter_values.bind_all(circuit).ravel())
    return [compile_circuit(each, noise) for each in bound]


def sample(
    compiled: Sequence[CompiledCircuit],
    shots: int,
    seed: int | np.random.SeedSequence | None,
    bond_dimension: int = 1,
    threads: int = 1,
) -> NDArray[np.bool_]:
    """Clbit values of every shot, shape ``(parameter sets, shots, num_clbits)``: a trajectory
    per shot. ``bond_dimension`` (the planner's probe) sizes the batches to the memory budget;
    ``threads`` batches run at once (NumPy's linear algebra releases the GIL)."""
    clbits = compiled[0].num_clbits if compiled else 0
    out = np.zeros((len(compiled), shots, clbits), dtype=np.bool_)
    if not compiled or not shots:
        return out
    generators = np.random.default_rng(seed).spawn(len(compiled))
    size = batch_size(compiled[0].sites, bond_dimension, threads)
    chunks = [(start, min(shots, start + size)) for start in range(0, shots, size)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for index, program in enumerate(compiled):
            runs = pool.map(
                _run,
                [program] * len(chunks),
                [stop - start for start, stop in chunks],
                generators[index].spawn(len(chunks)),
            )
            for (start, stop), bits in zip(chunks, runs, strict=True):
                out[index, start:stop] = bits
    return out


def batch_size(sites: int, bond_dimension: int, threads: int) -> int:
    """Trajectories per batch: :data:`BATCH_TRAJECTORIES`, fewer where ``threads`` batches of
    states of ``bond_dimension`` would not fit the memory budget. The batches, not the
    threads, decide which random numbers each shot draws, so a seeded job gives the same
    shots on any number of threads (on hosts whose memory fits full batches)."""
    per_trajectory = sites * 2 * bond_dimension**2 * capacity.AMPLITUDE_BYTES * WORKING_COPIES
    fitting = capacity.memory_budget() // max(1, threads * per_trajectory)
    return max(1, min(BATCH_TRAJECTORIES, fitting))


def _run(program: CompiledCircuit, trajectories: int, rng: np.random.Generator) -> Any:
    state = _Batch(program.sites, trajectories, rng)
    for step in program.steps:
        state.two_site(step)
    bits = state.measure(program.final, program.measured_sites)
    out = np.zeros((trajectories, program.num_clbits), dtype=np.bool_)
    column = {site: k for k, site in enumerate(program.measured_sites)}
    for site, clbit in program.measurements:
        k = column[site]
        read = bits[:, k]
        wrong = rng.random(trajectories) < np.where(read, program.flips[k, 1], program.flips[k, 0])
        out[:, clbit] = read ^ wrong
    return out


class _Batch:
    """``trajectories`` matrix product states of ``sites`` sites, one tensor per site of shape
    ``(trajectories, left bond, 2, right bond)``, in mixed-canonical form around
    ``self.center``: sites to its left are left-isometries, sites to its right right-
    isometries, so the centre tensor alone holds the norm and the local reduced states."""

    def __init__(self, sites: int, trajectories: int, rng: np.random.Generator) -> None:
        zero = np.zeros((trajectories, 1, 2, 1), dtype=np.complex128)
        zero[:, 0, 0, 0] = 1.0
        self.tensors = [zero.copy() for _ in range(sites)]
        self.center = 0
        self.rng = rng
        self.size = trajectories

    def move_center(self, site: int) -> None:
        while self.center < site:
            self._shift_right(self.center)
            self.center += 1
        while self.center > site:
            self._shift_left(self.center)
            self.center -= 1

    def _shift_right(self, site: int) -> None:
        tensor = self.tensors[site]
        b, left, _, right = tensor.shape
        q, r = np.linalg.qr(tensor.reshape(b, left * 2, right))
        bond = q.shape[2]
        self.tensors[site] = q.reshape(b, left, 2, bond)
        following = self.tensors[site + 1]
        self.tensors[site + 1] = np.matmul(r, following.reshape(b, right, -1)).reshape(
            b, bond, 2, following.shape[3]
        )

    def _shift_left(self, site: int) -> None:
        tensor = self.tensors[site]
        b, left, _, right = tensor.shape
        q, r = np.linalg.qr(tensor.reshape(b, left, 2 * right).conj().swapaxes(1, 2))
        bond = q.shape[2]
        self.tensors[site] = q.conj().swapaxes(1, 2).reshape(b, bond, 2, right)
        previous = self.tensors[site - 1]
        self.tensors[site - 1] = np.matmul(
            previous.reshape(b, -1, left), r.conj().swapaxes(1, 2)
        ).reshape(b, previous.shape[1], 2, bond)

    def two_site(self, step: TwoSiteStep) -> None:
        site = step.site
        if self.center > site + 1 or self.center < site:
            self.move_center(site if self.center < site else site + 1)
        left, right = self.tensors[site], self.tensors[site + 1]
        b, bond_left, _, _ = left.shape
        bond_right = right.shape[3]
        theta = np.matmul(left.reshape(b, bond_left * 2, -1), right.reshape(b, -1, 2 * bond_right))
        theta = theta.reshape(b, bond_left, 2, 2, bond_right)
        for position, channel in enumerate(step.before):
            if channel is not None:
                theta = self._apply(theta, (position,), channel)
        theta = np.matmul(step.gate, theta.reshape(b, bond_left, 4, bond_right)).reshape(
            theta.shape
        )
        if step.error is not None:
            theta = self._apply_error(theta, step.error)
        u, s, vh = np.linalg.svd(
            theta.reshape(b, bond_left * 2, 2 * bond_right), full_matrices=False
        )
        squared = s**2
        kept = squared > ZERO_SINGULAR_VALUE * squared.sum(axis=1, keepdims=True)
        bond = max(1, int(kept.sum(axis=1).max()))
        self.tensors[site] = u[:, :, :bond].reshape(b, bond_left, 2, bond)
        self.tensors[site + 1] = (s[:, :bond, None] * vh[:, :bond, :]).reshape(
            b, bond, 2, bond_right
        )
        self.center = site + 1

    def _apply_error(self, theta: Array, error: GateError) -> Array:
        choice = self.rng.choice(len(error.probabilities), size=self.size, p=error.probabilities)
        for index in np.unique(choice):
            operations = error.circuits[index]
            if not operations:
                continue
            members = np.flatnonzero(choice == index)
            part = theta[members]
            for operation in operations:
                part = self._apply(part, operation.positions, operation.channel)
            theta[members] = part
        return theta

    def _apply(self, theta: Array, positions: tuple[int, ...], channel: Channel) -> Array:
        """``channel`` on ``positions`` of a two-site tensor ``(b, L, 2, 2, R)``, one Kraus
        operator drawn per trajectory from its probabilities on that trajectory's state."""
        b, bond_left, _, _, bond_right = theta.shape
        if positions == (0,):
            view = theta.reshape(b, bond_left, 2, 2 * bond_right)
        elif positions == (1,):
            view = theta.reshape(b, bond_left * 2, 2, bond_right)
        else:
            view = theta.reshape(b, bond_left, 4, bond_right)
        return _sample_channel(view, channel, self.rng).reshape(theta.shape)

    def measure(self, final: Sequence[Channel | None], measured: Sequence[int]) -> Any:
        """Every trajectory's bits on the ``measured`` sites, drawn site by site from the
        left with the right part in canonical form; sites after the last measured one are
        never reached."""
        bits = np.zeros((self.size, len(measured)), dtype=np.bool_)
        if not measured:
            return bits
        self.move_center(0)
        column = {site: k for k, site in enumerate(measured)}
        environment = np.ones((self.size, 1, 1), dtype=np.complex128)
        for site in range(measured[-1] + 1):
            tensor = self.tensors[site]
            b, left, _, right = tensor.shape
            local = np.matmul(environment, tensor.reshape(b, left, 2 * right)).reshape(
                b, 1, 2, right
            )
            channel = final[site]
            if channel is not None and site in column:
                local = _sample_channel(local, channel, self.rng)
            weights = np.einsum("bsr,bsr->bs", local[:, 0], local[:, 0].conj()).real
            one = self.rng.random(b) * weights.sum(axis=1) < weights[:, 1]
            if site in column:
                bits[:, column[site]] = one
            chosen = local[np.arange(b), 0, one.astype(np.intp), :]
            norm = np.sqrt(np.maximum(weights[np.arange(b), one.astype(np.intp)], 1e-300))
            environment = (chosen / norm[:, None])[:, None, :]
        return bits


def _sample_channel(view: Array, channel: Channel, rng: np.random.Generator) -> Array:
    """``channel`` applied to ``view`` ``(b, L, d, R)`` (the operated index third), one Kraus
    operator per trajectory; the result normalised."""
    b = view.shape[0]
    kraus = channel.kraus
    applied: Array
    if channel.is_unitary:
        applied = np.matmul(kraus[0], view)
        return applied
    if channel.weights is not None:
        drawn = rng.choice(len(kraus), size=b, p=channel.weights)
        applied = np.matmul(kraus[drawn][:, None], view)
        return applied
    if len(kraus) == 1:
        chosen = np.matmul(kraus[0], view)
    else:
        d = view.shape[2]
        flat = view.swapaxes(1, 2).reshape(b, d, -1)
        rho = np.matmul(flat, flat.conj().swapaxes(1, 2))
        # P(k) = Tr(K^dagger K rho)
        gram = np.matmul(kraus.conj().swapaxes(1, 2), kraus)
        probabilities = np.einsum("kxy,byx->bk", gram, rho).real
        choice = _draw(np.maximum(probabilities, 0.0), rng)
        chosen = np.matmul(kraus[choice][:, None], view)
    norms = np.sqrt(np.einsum("blxr,blxr->b", chosen, chosen.conj()).real)
    normalised: Array = chosen / np.maximum(norms, 1e-300)[:, None, None, None]
    return normalised


def _draw(probabilities: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.intp]:
    """One index per row of ``probabilities`` (rows need not be normalised)."""
    cumulative = np.cumsum(probabilities, axis=1)
    threshold = rng.random(len(probabilities)) * cumulative[:, -1]
    choice: NDArray[np.intp] = np.minimum(
        (cumulative < threshold[:, None]).sum(axis=1), probabilities.shape[1] - 1
    )
    return choice


def _gate_error(
    noise: NoiseModel | None, name: str, qubits: tuple[int, ...]
) -> QuantumError | None:
    """The error Aer applies after ``name`` on ``qubits``: the local one, else the default."""
    if noise is None:
        return None
    local = noise._local_quantum_errors.get(name, {}).get(qubits)
    if local is not None:
        return local
    default = noise._default_quantum_errors.get(name)
    if default is not None and default.num_qubits == len(qubits):
        return default
    return None


class _SuperopCache:
    """Superoperators (row-major vectorisation: ``vec(A rho B) = (A kron B^T) vec(rho)``) of
    single-qubit gates and errors, each error converted once per compiled circuit."""

    def __init__(self) -> None:
        self._errors: dict[int, Array] = {}

    @staticmethod
    def unitary(matrix: Array) -> Array:
        return np.kron(matrix, matrix.conj())

    def error(self, error: QuantumError) -> Array:
        key = id(error)
        if key not in self._errors:
            self._errors[key] = sum(
                (np.kron(k, k.conj()) for k in _kraus(error)), np.zeros((4, 4), np.complex128)
            )
        return self._errors[key]


def _kraus(error: QuantumError) -> list[Array]:
    return [np.asarray(k, dtype=np.complex128) for k in Kraus(error).data]


def _channel(superop: Array | None) -> Channel | None:
    """A single-qubit channel's fewest Kraus operators (from its Choi matrix's eigenvectors);
    a unitary one has one."""
    if superop is None:
        return None
    # S[(i,j),(k,l)] = sum K[i,k] conj(K[j,l]); reshuffled: C[(i,k),(j,l)] (Choi, PSD).
    choi = superop.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    values, vectors = np.linalg.eigh((choi + choi.conj().T) / 2)
    keep = values > 1e-12 * values.max()
    kraus = np.array(
        [math.sqrt(values[i]) * vectors[:, i].reshape(2, 2) for i in np.flatnonzero(keep)],
        dtype=np.complex128,
    )
    return _kraus_channel(kraus)


def _in_site_order(matrix: Array, qubits: tuple[int, ...]) -> Array:
    """A two-qubit gate's matrix (Qiskit's order: its first qubit least significant) with the
    left site most significant."""
    if qubits[0] < qubits[1]:
        # Qiskit index = q1 * 2 + q0 = right * 2 + left: swap to left * 2 + right.
        return np.ascontiguousarray(matrix.reshape(2, 2, 2, 2).transpose(1, 0, 3, 2).reshape(4, 4))
    return matrix


def _two_qubit_error(
    error: QuantumError, qubits: tuple[int, ...], channels: dict[Any, Channel]
) -> GateError:
    """``error`` of a gate on ``qubits`` (sites) as a mixture of circuits of channels on the
    gate's left (0) and right (1) sites. ``channels`` caches instructions already converted
    (a device error's 144 circuits repeat a handful of instructions)."""
    left = min(qubits)
    circuits: list[list[ErrorOperation]] = []
    for circuit in error.circuits:
        operations: list[ErrorOperation] = []
        for instruction in circuit.data:
            operation = instruction.operation
            if operation.name in IGNORED_INSTRUCTIONS or operation.name == "id":
                continue
            on = tuple(qubits[circuit.find_bit(q).index] for q in instruction.qubits)
            if len(on) > 2:
                raise Unsupported(f"the noise model's errors act on {len(on)} qubits at once")
            key = (operation.name, on, tuple(_parameter_key(p) for p in operation.params))
            channel = channels.get(key)
            if channel is None:
                channel = channels[key] = _error_channel(operation, on)
            positions = (0, 1) if len(on) == 2 else (on[0] - left,)
            operations.append(ErrorOperation(positions, channel))
        circuits.append(operations)
    probabilities = np.asarray(error.probabilities, dtype=np.float64)
    return GateError(probabilities / probabilities.sum(), circuits)


def _cached_error(
    error: QuantumError,
    qubits: tuple[int, ...],
    errors: dict[tuple[int, tuple[int, ...]], GateError],
    channels: dict[Any, Channel],
) -> GateError:
    key = (id(error), qubits)
    if key not in errors:
        errors[key] = _two_qubit_error(error, qubits, channels)
    return errors[key]


def _parameter_key(parameter: Any) -> Any:
    if isinstance(parameter, np.ndarray):
        return parameter.tobytes()
    return str(parameter)


def _error_channel(operation: Any, on: tuple[int, ...]) -> Channel:
    """One instruction of an error circuit as a channel on the sites ``on``."""
    if operation.name == "reset" and len(on) == 1:
        kraus = np.array([[[1, 0], [0, 0]], [[0, 1], [0, 0]]], dtype=np.complex128)
    elif operation.name == "kraus":
        kraus = np.array([np.asarray(k) for k in operation.params], dtype=np.complex128)
    elif isinstance(operation, Gate):
        kraus = np.asarray(operation.to_matrix(), dtype=np.complex128)[None]
    else:
        raise Unsupported(f"the noise model's errors have a {operation.name} instruction")
    if len(on) == 2:
        kraus = np.array([_in_site_order(k, on) for k in kraus])
    return _kraus_channel(kraus)


def _kraus_channel(kraus: Array) -> Channel:
    """A channel of these Kraus operators, marked as a mixture of unitaries where each
    ``K^dagger K`` is a multiple of the identity (then sampled without reading the state)."""
    d = kraus.shape[1]
    gram = np.matmul(kraus.conj().swapaxes(1, 2), kraus)
    weights = np.trace(gram, axis1=1, axis2=2).real / d
    if np.allclose(gram, weights[:, None, None] * np.eye(d), atol=1e-12):
        keep = weights > 1e-15
        unitaries = kraus[keep] / np.sqrt(weights[keep])[:, None, None]
        return Channel(np.ascontiguousarray(unitaries), weights[keep] / weights[keep].sum())
    return Channel(kraus)


def _nearest_first(steps: list[TwoSiteStep], sites: int) -> list[TwoSiteStep]:
    """The steps in an order that keeps each site's own order (steps on a common site never
    swap) and moves the orthogonality centre little: of the steps ready to run, the one
    nearest to the centre."""
    queues: list[list[int]] = [[] for _ in range(sites)]
    for index, step in enumerate(steps):
        queues[step.site].append(index)
        queues[step.site + 1].append(index)
    heads = [0] * sites
    done: list[TwoSiteStep] = []
    ready = {index for index, step in enumerate(steps) if _is_ready(index, step, queues, heads)}
    center = 0
    while ready:
        index = min(ready, key=lambda i: (abs(steps[i].site - center), i))
        ready.discard(index)
        step = steps[index]
        done.append(step)
        center = step.site + 1
        for site in (step.site, step.site + 1):
            heads[site] += 1
            if heads[site] < len(queues[site]):
                candidate = queues[site][heads[site]]
                if _is_ready(candidate, steps[candidate], queues, heads):
                    ready.add(candidate)
    if len(done) != len(steps):
        raise RuntimeError("the two-qubit gates could not be ordered")
    return done


def _is_ready(index: int, step: TwoSiteStep, queues: list[list[int]], heads: list[int]) -> bool:
    return all(
        heads[site] < len(queues[site]) and queues[site][heads[site]] == index
        for site in (step.site, step.site + 1)
    )
