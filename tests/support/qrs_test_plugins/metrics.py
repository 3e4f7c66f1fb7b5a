"""Reading a Prometheus exposition in tests: every sample by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

#: ``{(sample name, frozenset of its labels): value}``.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_of(text: str) -> Samples:
    """Every sample of a ``/metrics`` answer (``qrs_jobs_finished_total``, its ``_created``,
    each histogram's ``_bucket``/``_sum``/``_count``), keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
