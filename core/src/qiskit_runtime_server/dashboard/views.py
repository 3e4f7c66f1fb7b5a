"""What the dashboard's pages show, as JSON-ready data built from the store.

Everything here is for one caller: jobs and sessions of the instance a request acts for, and
counts over the instances its key may use, so that one instance never sees another's work.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Any

import numpy as np
from qiskit.primitives import BitArray, PrimitiveResult
from qiskit_ibm_runtime import RuntimeDecoder

from ..jobs.models import JobRecord, JobStatus, SessionRecord, isoformat
from ..jobs.store import JobStore
from ..plugins import PluginHost

logger = logging.getLogger(__name__)

#: Largest stored result the dashboard decodes to draw it.
MAX_DRAWN_RESULT_BYTES = 16 * 2**20
#: Outcomes drawn per histogram (the most frequent, when there are more; the rest are summed
#: as "other").
MAX_OUTCOMES = 32
#: Expectation values drawn per estimator PUB.
MAX_VALUES = 256


def job_row(job: JobRecord) -> dict[str, Any]:
    """A job as the jobs list shows it."""
    return {
        "id": job.id,
        "program": job.program_id,
        "backend": job.backend,
        "executor": job.executor,
        "status": job.status.value,
        "reason": job.reason,
        "created": isoformat(job.created),
        "running_at": isoformat(job.running_at),
        "finished_at": isoformat(job.finished_at),
        "session_id": job.session_id,
        "tags": list(job.tags),
        "usage_seconds": round(job.usage_seconds, 6),
    }


def job_page(store: JobStore, job: JobRecord) -> dict[str, Any]:
    """A job's page: its row, timeline, logs, PUB summary and results to draw."""
    timeline = [{"event": "created", "at": isoformat(job.created)}]
    if job.running_at is not None:
        timeline.append({"event": "running", "at": isoformat(job.running_at)})
    if job.finished_at is not None:
        timeline.append({"event": job.status.value.lower(), "at": isoformat(job.finished_at)})
    page: dict[str, Any] = {
        **job_row(job),
        "private": job.private,
        "timeline": timeline,
        "queue_seconds": (
            (job.running_at - job.created).total_seconds() if job.running_at else None
        ),
        "logs": store.job_logs(job.id),
        "circuits": [
            {"qubits": qubits, "depth": depth}
            for qubits, depth in zip(job.num_qubits, job.circuit_depths, strict=False)
        ],
        "executions": job.executions,
        "pubs": [],
        "note": None,
    }
    if job.status != JobStatus.COMPLETED:
        return page
    if job.private:
        page["note"] = "A private job's result is handed out once, to its client: not shown."
        return page
    outcome = store.job_outcome(job.id, job.instance, MAX_DRAWN_RESULT_BYTES)
    if outcome is None or outcome.body is None:
        page["note"] = "The result is too large to draw here (or was already read)."
        return page
    try:
        result = json.loads(outcome.body, cls=RuntimeDecoder)
    except Exception as exc:  # a result this version cannot decode: say so, not 500
        logger.warning("the dashboard could not decode job %s's result: %s", job.id, exc)
        page["note"] = f"The result could not be decoded: {type(exc).__name__}."
        return page
    if not isinstance(result, PrimitiveResult):
        page["note"] = f"The {job.program_id} program's results are not drawn."
        return page
    page["pubs"] = [drawn_pub(pub) for pub in result]
    return page


def drawn_pub(pub: Any) -> dict[str, Any]:
    """One PUB's summary (shape, shots) and what to draw: counts for a sampler PUB, values
    with their standard errors for an estimator PUB."""
    data = pub.data
    metadata = dict(pub.metadata or {})
    shape = list(getattr(data, "shape", ()))
    drawn: dict[str, Any] = {
        "parameter_sets": int(np.prod(shape)) if shape else 1,
        "shape": shape,
        "shots": metadata.get("shots"),
        "precision": metadata.get("target_precision"),
    }
    registers = {name: value for name, value in data.items() if isinstance(value, BitArray)}
    if registers:
        drawn["kind"] = "counts"
        drawn["registers"] = [counts_of(name, bits) for name, bits in registers.items()]
        first = next(iter(registers.values()))
        drawn["shots"] = drawn["shots"] or first.num_shots
        return drawn
    if "evs" in data:
        evs = np.asarray(data.evs, dtype=float).ravel()
        stds = np.asarray(getattr(data, "stds", np.zeros_like(evs)), dtype=float).ravel()
        drawn["kind"] = "expectation_values"
        drawn["values"] = [
            {"ev": float(ev), "std": float(std)}
            for ev, std in zip(evs[:MAX_VALUES], stds[:MAX_VALUES], strict=False)
        ]
        drawn["truncated"] = evs.size > MAX_VALUES
        return drawn
    drawn["kind"] = "other"
    return drawn


def counts_of(name: str, bits: BitArray) -> dict[str, Any]:
    """The most frequent outcomes of a classical register, over all parameter sets."""
    counts = bits.get_counts()
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ordered[:MAX_OUTCOMES]
    if len(ordered) <= MAX_OUTCOMES:  # every outcome drawn: in the order of the bitstrings
        shown.sort()
    return {
        "name": name,
        "bits": bits.num_bits,
        "counts": [{"outcome": outcome, "count": count} for outcome, count in shown],
        "other": sum(count for _, count in ordered[MAX_OUTCOMES:]),
        "total": sum(counts.values()),
    }


def session_row(session: SessionRecord) -> dict[str, Any]:
    return {
        "id": session.id,
        "mode": session.mode,
        "backend": session.backend,
        "state": session.state,
        "accepting_jobs": session.accepting_jobs,
        "created": isoformat(session.created),
        "closed_at": isoformat(session.closed_at),
        "elapsed_time": round(session.elapsed_time, 6),
    }


def overview(
    store: JobStore,
    plugins: PluginHost,
    workers_alive: dict[str, int],
    instances: Collection[str] | None,
) -> dict[str, Any]:
    """Executors with their availability, workers, device memory and the queue of the
    caller's ``instances`` (None: every instance, in the open mode)."""
    activity = store.activity(instances)
    executors = []
    for entry in plugins.summary()["executors"]:
        name = entry["name"]
        executors.append(
            {
                "name": name,
                "version": entry["version"],
                "device": entry["device"],
                "available": entry["available"],
                "reason": entry["reason"],
                "max_qubits": entry["max_qubits"],
                "programs": entry["programs"],
                "simulates_noise": entry["simulates_noise"],
                "device_memory": entry.get("device_memory"),
                "workers_alive": workers_alive.get(name, 0),
                "queued": activity.jobs.get((name, JobStatus.QUEUED.value), 0),
                "running": activity.jobs.get((name, JobStatus.RUNNING.value), 0),
            }
        )
    return {"executors": executors, "sessions_by_state": activity.sessions}
