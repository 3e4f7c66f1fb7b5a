"""Calibration ids of backend descriptions."""

from __future__ import annotations

import re

from qiskit_runtime_server.backend_description import calibration_id_of
from qiskit_runtime_server.builtin.ideal_simulator import ideal_configuration

PROPERTIES = {"last_update_date": "2021-03-15T00:40:24-04:00", "qubits": [[]], "gates": []}


def test_the_id_is_the_snapshots_utc_date_and_a_digest_of_its_documents() -> None:
    configuration = ideal_configuration(5)
    calibration_id = calibration_id_of(configuration, PROPERTIES)
    assert re.fullmatch(r"20210315T044024Z-[0-9a-f]{12}", calibration_id)
    # Stable: the same documents, in another key order, give the same id.
    reordered = dict(reversed(list(configuration.items())))
    assert calibration_id_of(reordered, dict(PROPERTIES)) == calibration_id
    # Another snapshot (same date, another value) gives another id.
    changed = {**PROPERTIES, "gates": [{"gate": "x", "qubits": [0], "parameters": []}]}
    assert calibration_id_of(configuration, changed) != calibration_id


def test_devices_without_properties_are_dated_by_their_configuration() -> None:
    configuration = ideal_configuration(5)
    assert calibration_id_of(configuration, None).startswith("20240101T000000Z-")
    naive = {**configuration, "online_date": "2024-01-01T12:00:00"}
    assert calibration_id_of(naive, None).startswith("20240101T120000Z-")
    for undated in ({k: v for k, v in configuration.items() if k != "online_date"},
                    {**configuration, "online_date": "yesterday"}):  # fmt: skip
        assert calibration_id_of(undated, None).startswith("undated-")


def test_an_id_the_documents_carry_is_kept() -> None:
    configuration = ideal_configuration(5)
    assert calibration_id_of(configuration, {**PROPERTIES, "calibration_id": "cal-7"}) == "cal-7"
    assert calibration_id_of({**configuration, "calibration_id": "cal-8"}, None) == "cal-8"
