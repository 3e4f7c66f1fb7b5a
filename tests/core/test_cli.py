"""``qiskit-runtime-server keys create|list|revoke``: the file an operator manages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from qiskit_runtime_server.auth.keyfile import hash_key, load
from qiskit_runtime_server.cli import main
from qiskit_runtime_server.settings import Settings

CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:alice::"


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "keys.toml"
    created = runner.invoke(
        main,
        ["keys", "create", "--file", str(path), "--user", "alice", "--instance", CRN,
         "--instance-name", "alice", "--max-queued-jobs", "5"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("qrs_")
    assert key not in path.read_text()
    assert hash_key(key) in path.read_text()
    record = load(path).find(key)
    assert record is not None
    assert record.user == "alice"

    listed = runner.invoke(main, ["keys", "list", "--file", str(path), "--json"])
    assert listed.exit_code == 0
    (row,) = json.loads(listed.stdout)
    assert row["id"] == record.id
    assert row["instances"] == [CRN]
    assert key not in listed.output

    revoked = runner.invoke(main, ["keys", "revoke", "--file", str(path), record.id])
    assert revoked.exit_code == 0
    assert load(path).find(key) is None
    again = runner.invoke(main, ["keys", "revoke", "--file", str(path), record.id])
    assert again.exit_code != 0
    assert "no key with id" in again.output


def test_keys_need_a_file_and_valid_instances(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("QRS_API_KEYS_FILE", raising=False)
    runner = CliRunner()
    missing = runner.invoke(main, ["keys", "list"])
    assert missing.exit_code != 0
    assert "QRS_API_KEYS_FILE" in missing.output
    bad = runner.invoke(
        main,
        ["keys", "create", "--file", str(tmp_path / "k.json"), "--user", "bob",
         "--instance", "not-a-crn"],
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "not an instance CRN" in bad.output


def test_a_bad_setting_stops_serve_without_repeating_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Some settings are secrets: the error names the setting and what is wrong, never the
    value, and is a message rather than a traceback."""
    monkeypatch.setenv("QRS_TOKEN_SECRET", "a-secret-too-short")
    monkeypatch.setenv("QRS_METRICS_TOKEN", "scrape-short")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1, result.output
    assert "QRS_TOKEN_SECRET" in result.output
    assert "QRS_METRICS_TOKEN" in result.output
    assert "a-secret-too-short" not in result.output
    assert "scrape-short" not in result.output
    assert result.output.startswith("Error: invalid settings: "), result.output
    # Nor where the settings are read elsewhere (the app, the pytest plugin's fixture).
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "a-secret-too-short" not in str(refused.value)
