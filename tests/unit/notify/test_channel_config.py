"""Channels as configuration: the env var shapes, secrets that never print, unique names, every type built into a
Channel of the right kind, and the documented example parsing as it reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from notify.channels.base import Channel
from notify.channels.config import ChannelsConfig, build_channels, load_channels_config

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[3] / "docs" / "notify-channels.md"

EVERY_TYPE = [
    {"name": "outbox", "type": "outbox"},
    {
        "name": "sms-mas",
        "type": "sms-mas",
        "submit_url": "https://mas.example/sms/norsubmit",
        "ec_name": "呼应科技",
        "ap_id": "huying",
        "secret_key": "mas-secret",
        "sign": "S1",
    },
    {
        "name": "sms-tpl",
        "type": "sms-template",
        "url": "https://dysmsapi.example/",
        "access_key_id": "LTAI",
        "access_key_secret": "tpl-secret",
        "sign_name": "呼应",
        "templates": {"receipt": "SMS_1"},
        "callback_secret": "cb-secret",
    },
    {"name": "sms-cmpp", "type": "sms-cmpp", "host": "ismg", "source_addr": "901234", "shared_secret": "cmpp-secret"},
    {"name": "email", "type": "smtp", "host": "smtp", "port": 587, "sender": "noc@h.example", "start_tls": True},
    {"name": "hook", "type": "webhook", "url": "https://hooks.example/x", "secret": "hook-secret"},
]


async def test_every_channel_type_builds_a_channel_of_its_kind():
    config = load_channels_config({"HUYING_NOTIFY_CHANNELS": json.dumps(EVERY_TYPE)})
    channels = build_channels(config)
    assert list(channels) == [c["name"] for c in EVERY_TYPE]
    assert all(isinstance(c, Channel) for c in channels.values())
    kinds = {name: c.kind for name, c in channels.items()}
    assert kinds == {
        "outbox": "outbox",
        "sms-mas": "sms",
        "sms-tpl": "sms",
        "sms-cmpp": "sms",
        "email": "email",
        "hook": "webhook",
    }
    for channel in channels.values():
        await channel.close()


def test_secrets_never_print():
    config = ChannelsConfig.model_validate({"channels": EVERY_TYPE})
    text = repr(config) + str(config.model_dump())
    for secret in ("mas-secret", "tpl-secret", "cb-secret", "cmpp-secret", "hook-secret"):
        assert secret not in text


def test_without_configuration_there_is_the_outbox_alone():
    assert [c.name for c in load_channels_config({}).channels] == ["outbox"]


def test_a_yaml_file_is_read(tmp_path):
    path = tmp_path / "channels.yaml"
    path.write_text("channels:\n  - {name: outbox, type: outbox}\n  - {name: hook, type: webhook, secret: s}\n")
    config = load_channels_config({"HUYING_NOTIFY_CHANNELS_FILE": str(path)})
    assert [c.type for c in config.channels] == ["outbox", "webhook"]


@pytest.mark.parametrize(
    "channels",
    [
        [{"name": "a", "type": "outbox"}, {"name": "a", "type": "outbox"}],  # names must be unique
        [{"name": "x", "type": "fax"}],  # no such type
        [{"name": "x", "type": "webhook"}],  # a webhook needs its secret
        [{"name": "x", "type": "smtp", "host": "h", "sender": "s@h", "use_tls": True, "start_tls": True}],
        [{"name": "x", "type": "sms-cmpp", "host": "h", "source_addr": "12", "shared_secret": "s"}],
        [{"name": "x", "type": "outbox", "colour": "red"}],  # a typo is an error, not ignored
    ],
)
def test_bad_configuration_is_refused(channels):
    with pytest.raises(ValidationError):
        ChannelsConfig.model_validate({"channels": channels})


def test_only_keeps_the_named_channels_in_configuration_order():
    config = ChannelsConfig.model_validate({"channels": EVERY_TYPE})
    assert list(build_channels(config, only=["hook", "outbox"])) == ["outbox", "hook"]
    with pytest.raises(ValueError, match="not configured"):
        build_channels(config, only=["nope"])


def test_the_documented_example_is_a_valid_configuration():
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```json\n(\[.*?\])\n```", text, re.S)
    assert block, "docs/notify-channels.md has a JSON channel list"
    config = load_channels_config({"HUYING_NOTIFY_CHANNELS": block.group(1)})
    assert {c.type for c in config.channels} == {"outbox", "sms-mas", "sms-template", "sms-cmpp", "smtp", "webhook"}
