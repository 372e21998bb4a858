"""The README's channel example is a configuration notify accepts (a newcomer copies it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from notify.channels.config import load_channels_config

pytestmark = pytest.mark.unit
README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readmes_channel_file_loads_with_a_channel_of_each_kind(tmp_path) -> None:
    found = re.search(r"```yaml\n# notify-channels\.yaml[^\n]*\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert found, "README lost its notify-channels.yaml example"
    path = tmp_path / "notify-channels.yaml"
    path.write_text(found.group(1), encoding="utf-8")
    config = load_channels_config({"HUYING_NOTIFY_CHANNELS_FILE": str(path)})
    assert [(c.name, c.type) for c in config.channels] == [
        ("sms-cmpp", "sms-cmpp"),
        ("sms-mas", "sms-mas"),
        ("email", "smtp"),
        ("hook", "webhook"),
    ]
