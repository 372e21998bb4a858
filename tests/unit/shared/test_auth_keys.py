"""Source systems' API keys: from HUYING_INTAKE_API_KEYS or a secret file, never echoed in an error."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr, ValidationError

from huying.auth import matching_system
from intake.settings import IntakeSettings

pytestmark = pytest.mark.unit
KEYS = {"10086-cc": "key-cc", "web": "key-web"}


def test_keys_come_from_the_variable_or_from_a_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HUYING_INTAKE_API_KEYS", json.dumps(KEYS))
    assert {s: k.get_secret_value() for s, k in IntakeSettings().api_keys.items()} == KEYS
    monkeypatch.delenv("HUYING_INTAKE_API_KEYS")
    keys_file = tmp_path / "api_keys.json"
    keys_file.write_text(json.dumps(KEYS) + "\n")
    monkeypatch.setenv("HUYING_INTAKE_API_KEYS_FILE", str(keys_file))
    assert {s: k.get_secret_value() for s, k in IntakeSettings().api_keys.items()} == KEYS
    monkeypatch.setenv("HUYING_INTAKE_API_KEYS", json.dumps(KEYS))
    with pytest.raises(ValidationError, match="not both"):
        IntakeSettings()


@pytest.mark.parametrize("content", [None, "", '["key-cc"]', '{"10086-cc": "key-cc"'])
def test_a_missing_or_malformed_keys_file_is_refused_naming_the_variable_not_the_keys(tmp_path, content) -> None:
    keys_file = tmp_path / "api_keys.json"
    if content is not None:
        keys_file.write_text(content)
    with pytest.raises(ValidationError, match="HUYING_INTAKE_API_KEYS_FILE") as refused:
        IntakeSettings(api_keys_file=keys_file)
    assert "key-cc" not in str(refused.value)


def test_a_key_matches_exactly_its_own_system() -> None:
    keys = {system: SecretStr(key) for system, key in KEYS.items()}
    assert [matching_system(keys, k) for k in ("key-cc", "key-web")] == ["10086-cc", "web"]
    assert {matching_system(keys, k) for k in (None, "", "key-c", "key-cc\x00", "KEY-CC", "ké")} == {None}
    assert matching_system({}, "key-cc") is None
