"""The API keys file: creating, loading (TOML and JSON), revoking; only hashes are stored."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from qiskit_runtime_server.auth import KeyFileError
from qiskit_runtime_server.auth.keyfile import hash_key, load, parse, save

CRN_A = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:alice::"
CRN_B = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:bob::"


@pytest.mark.parametrize("name", ["keys.toml", "keys.json"])
def test_round_trip_stores_only_the_hash(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    keys = load(path)  # a missing file is an empty key set
    record, secret = keys.add("alice", [CRN_A], instance_name="alice-dev", max_queued_jobs=5)
    save(path, keys)
    text = path.read_text()
    assert secret not in text
    assert hash_key(secret) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load(path)
    assert loaded.find(secret) == record
    assert loaded.find(secret + "x") is None
    assert loaded.instance(CRN_A).name == "alice-dev"
    assert loaded.instance(CRN_A).max_queued_jobs == 5
    loaded.revoke(record.id)
    save(path, loaded)
    assert load(path).find(secret) is None


def test_hand_written_plain_key_is_accepted() -> None:
    keys = parse({"keys": [{"user": "bob", "key": "s3cret", "instances": [CRN_B]}]})
    (record,) = keys.keys
    assert keys.find("s3cret") == record
    assert record.id.startswith("k-")
    assert keys.instance(CRN_B).name == "bob"  # from the CRN when not configured


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "top level"),
        ({"keys": [{"key": "x", "instances": [CRN_A]}]}, "'user' is required"),
        ({"keys": [{"user": "a", "instances": [CRN_A]}]}, "'sha256' (hex) or 'key'"),
        ({"keys": [{"user": "a", "key": "x", "instances": []}]}, "non-empty list"),
        ({"keys": [{"user": "a", "key": "x", "instances": ["nope"]}]}, "not an instance CRN"),
        ({"instances": {CRN_A: {"max_queued_jobs": 0}}}, "positive integer"),
        (
            {"keys": [{"id": "k", "user": "a", "key": "x", "instances": [CRN_A]}] * 2},
            "share an id",
        ),
    ],
)
def test_invalid_files_say_what_is_wrong(data: object, fragment: str) -> None:
    with pytest.raises(KeyFileError, match=None) as raised:
        parse(data)
    assert fragment in str(raised.value)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(KeyFileError, match="cannot read"):
        load(path)
