"""The executor's settings, read from the environment.

They are per server, not per job: every worker process reads the same environment, so the
catalogue (qubit limit, availability) and the jobs agree. Each variable is documented in the
plugin's README.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

KernelName = Literal["custatevec", "numpy"]
Precision = Literal["double", "single"]

KERNELS: tuple[KernelName, ...] = ("custatevec", "numpy")
PRECISIONS: tuple[Precision, ...] = ("double", "single")


class SettingsError(ValueError):
    """A variable holds a value the executor cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    #: ``custatevec`` runs on an NVIDIA GPU; ``numpy`` is the CPU reference kernel, for tests
    #: and for checking a GPU against it (it is not a fast simulator).
    kernel: KernelName = "custatevec"
    #: ``double`` (complex128, the default, as on IBM's simulators) or ``single`` (complex64:
    #: half the memory, one qubit more, about 1e-6 relative error).
    precision: Precision = "double"
    #: Largest number of qubits a fused gate may act on; 0 or 1 turns fusion off.
    fusion_max_qubits: int = 5
    #: Circuits on fewer qubits are not fused (Aer's default threshold: there, launch overhead
    #: dominates and fusion does not pay).
    fusion_threshold: int = 14
    #: CUDA device indices the executor runs on, one worker process per device by default;
    #: empty: every visible device (``CUDA_VISIBLE_DEVICES`` narrows what is visible).
    devices: tuple[int, ...] = ()
    #: Device memory kept free for cuStateVec workspaces, the sampler and the CUDA context.
    memory_reserve_mib: int = 1536
    #: Most statevectors simulated side by side in a parameter sweep.
    max_batch: int = 1024

    @property
    def itemsize(self) -> int:
        """Bytes per amplitude."""
        return 16 if self.precision == "double" else 8

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        kernel = env.get("QRS_CUSTATEVEC_KERNEL", "custatevec")
        if kernel not in KERNELS:
            raise SettingsError(f"QRS_CUSTATEVEC_KERNEL must be one of {KERNELS}, got {kernel!r}")
        precision = env.get("QRS_CUSTATEVEC_PRECISION", "double")
        if precision not in PRECISIONS:
            raise SettingsError(
                f"QRS_CUSTATEVEC_PRECISION must be one of {PRECISIONS}, got {precision!r}"
            )
        return cls(
            kernel=kernel,
            precision=precision,
            fusion_max_qubits=_int(env, "QRS_CUSTATEVEC_FUSION_MAX_QUBITS", 5, 0, 10),
            fusion_threshold=_int(env, "QRS_CUSTATEVEC_FUSION_THRESHOLD", 14, 0, 64),
            devices=_devices(env),
            memory_reserve_mib=_int(env, "QRS_CUSTATEVEC_MEMORY_RESERVE_MIB", 1536, 0, 1 << 20),
            max_batch=_int(env, "QRS_CUSTATEVEC_MAX_BATCH", 1024, 1, 1 << 16),
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {text!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _devices(env: Mapping[str, str]) -> tuple[int, ...]:
    """``QRS_CUSTATEVEC_DEVICES``: ``0,2`` (CUDA indices), or unset/``all`` for every device."""
    name = "QRS_CUSTATEVEC_DEVICES"
    if "QRS_CUSTATEVEC_DEVICE" in env:
        raise SettingsError(f"QRS_CUSTATEVEC_DEVICE is replaced by {name} (a comma-separated list)")
    text = env.get(name, "").strip()
    if text in ("", "all"):
        return ()
    try:
        devices = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise SettingsError(
            f"{name} must be 'all' or comma-separated device indices, got {text!r}"
        ) from None
    if any(d < 0 for d in devices) or len(set(devices)) != len(devices):
        raise SettingsError(f"{name} must list distinct non-negative indices, got {text!r}")
    return devices
