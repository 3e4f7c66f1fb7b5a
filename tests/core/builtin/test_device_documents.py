"""What the server serves for a fake device where its snapshot falls short of IBM."""

from __future__ import annotations

import copy

from qiskit_runtime_server.builtin.device_documents import served_documents
from qrs_test_plugins.circuits import fake_device


def snapshot(name: str) -> tuple[dict, dict]:
    description = fake_device(name)
    conf = description._read(description._class.conf_filename)
    props = description._read(description._class.props_filename)
    assert conf is not None
    assert props is not None
    return conf, props


def test_a_current_non_heron_device_is_served_as_its_snapshot() -> None:
    conf, props = snapshot("fake_manila")
    served_conf, served_props, derived = served_documents(conf, props)
    assert (served_conf, served_props, derived) == (conf, props, {})


def test_the_pre_2021_basis_becomes_todays_with_the_same_calibrations() -> None:
    conf, props = snapshot("fake_london")
    original = copy.deepcopy((conf, props))
    served_conf, served_props, derived = served_documents(conf, props)
    assert (conf, props) == original  # the inputs are not changed
    assert served_conf["basis_gates"] == ["id", "rz", "sx", "x", "cx"]
    assert {g["name"] for g in served_conf["gates"]} == {"id", "rz", "sx", "x", "cx"}
    assert derived == {
        "rz": "the snapshot's u1 calibration",
        "sx": "the snapshot's u2 calibration",
        "x": "the snapshot's u3 calibration",
    }
    assert "sx: the snapshot's u2 calibration." in served_conf["description"]

    def gate(document: dict, name: str, qubits: list[int]) -> dict:
        return next(g for g in document["gates"] if g["gate"] == name and g["qubits"] == qubits)

    sx = gate(served_props, "sx", [3])
    assert sx["name"] == "sx_3"
    assert sx["parameters"] == gate(props, "u2", [3])["parameters"]
    assert gate(served_props, "x", [3])["parameters"] == gate(props, "u3", [3])["parameters"]
    assert not {g["gate"] for g in served_props["gates"]} & {"u1", "u2", "u3"}


def test_heron_offers_fractional_gates_derived_from_sx_and_cz() -> None:
    conf, props = snapshot("fake_torino")  # every rzz of the snapshot is a placeholder of 1
    served_conf, served_props, derived = served_documents(conf, props)
    assert {"rx", "rzz"} <= set(served_conf["basis_gates"])
    cz = {tuple(g["qubits"]): g["parameters"] for g in served_props["gates"] if g["gate"] == "cz"}
    rzz = {tuple(g["qubits"]): g["parameters"] for g in served_props["gates"] if g["gate"] == "rzz"}
    assert rzz == cz
    rzz_conf = next(g for g in served_conf["gates"] if g["name"] == "rzz")
    assert sorted(map(tuple, rzz_conf["coupling_map"])) == sorted(cz)
    assert derived == {
        "rzz": "cz's calibration on each pair where the snapshot has none or a placeholder "
        "(300 of 300)"
    }


def test_heron_keeps_the_snapshots_own_fractional_calibrations() -> None:
    conf, props = snapshot("fake_fez")  # 98 of its 352 rzz errors are placeholders of 1

    def errors(document: dict, name: str) -> dict:
        return {
            tuple(g["qubits"]): next(
                p["value"] for p in g["parameters"] if p["name"] == "gate_error"
            )
            for g in document["gates"]
            if g["gate"] == name
        }

    _, served_props, derived = served_documents(conf, props)
    own, cz, served = errors(props, "rzz"), errors(props, "cz"), errors(served_props, "rzz")
    assert set(served) == set(cz)
    kept = {pair for pair, error in own.items() if error < 1}
    assert len(kept) == 352 - 98
    for pair, error in served.items():
        assert error == (own[pair] if pair in kept else cz[pair])
    assert "(98 of 352)" in derived["rzz"]
    assert "rx" not in derived  # every rx of the snapshot is calibrated


def test_nighthawk_is_not_heron() -> None:
    conf, props = snapshot("fake_miami")
    served_conf, _, derived = served_documents(conf, props)
    assert derived == {}
    assert "rzz" not in served_conf["basis_gates"]
