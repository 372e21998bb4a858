"""Which channels a deployment has, as data: one pydantic model per channel type (secrets as SecretStr), a list of
named channels, and `build_channels(config)` — the registry the pipeline asks by name.

The list comes from `HUYING_NOTIFY_CHANNELS` (JSON) or `HUYING_NOTIFY_CHANNELS_FILE` (a YAML or JSON file); with
neither, one outbox named "outbox" (the `make run` default). See docs/notify-channels.md."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from notify.channels.base import Channel
from notify.channels.cmpp import CmppConfig
from notify.channels.cmpp_channel import CmppChannel
from notify.channels.httpsms import MasSmsChannel, TemplateSmsChannel
from notify.channels.outbox import OutboxChannel
from notify.channels.smtp import SmtpChannel
from notify.channels.webhook import WebhookChannel

ENV_JSON = "HUYING_NOTIFY_CHANNELS"
ENV_FILE = "HUYING_NOTIFY_CHANNELS_FILE"
NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME, description="unique per deployment; rules and failover refer to it")


class _Http(_Channel):
    connect_timeout: float = Field(5.0, gt=0, description="seconds; our choice: a gateway that is up answers a SYN")
    read_timeout: float = Field(10.0, gt=0, description="seconds to an answer; after it, a send is unknown")

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)


class OutboxChannelConfig(_Channel):
    type: Literal["outbox"] = "outbox"


class MasSmsChannelConfig(_Http):
    """China Mobile 云MAS-style HTTP submit (ecName / apId / secretKey / sign from the platform's console)."""

    type: Literal["sms-mas"]
    submit_url: str = Field(examples=["https://112.35.10.201:28888/sms/norsubmit"])
    query_url: str | None = Field(None, description="a status query by msgGroup, if the platform has one")
    ec_name: str = Field(description="集团客户名称, as registered")
    ap_id: str = Field(description="接口账号")
    secret_key: SecretStr
    sign: str = Field(description="签名编码 from the platform")
    add_serial: str = Field("", description="扩展码 appended to the sender number")
    retry_codes: tuple[str, ...] = Field((), description="rspcod values that mean 'later' (others are rejected)")


class TemplateSmsChannelConfig(_Http):
    """A template-code + parameters platform signed with ACS3-HMAC-SHA256 (the shape of Aliyun's SendSms)."""

    type: Literal["sms-template"]
    url: str = Field(examples=["https://dysmsapi.aliyuncs.com/"])
    access_key_id: str
    access_key_secret: SecretStr
    sign_name: str = Field(description="the approved signature, e.g. 呼应")
    templates: dict[str, str] = Field(description="our template id → the platform's template code")
    callback_secret: SecretStr | None = Field(None, description="checks the signature of delivery-report callbacks")
    action: str = "SendSms"
    version: str = "2017-05-25"


class CmppChannelConfig(_Channel):
    """SMS over CMPP 3.0 to an operator's ISMG; timing defaults are the specification's (T=60 s, C=3 min, W=16)."""

    type: Literal["sms-cmpp"]
    host: str
    port: int = Field(7890, description="the ISMG's usual CMPP port")
    source_addr: str = Field(pattern=r"^\d{6}$", description="企业代码")
    shared_secret: SecretStr
    src_id: str = Field("", description="服务代码 plus extension: the sender the phone shows")
    service_id: str = ""
    signature: str = Field("", description="【签名】 added to every text")
    window: int = Field(16, ge=1)
    connect_timeout: float = Field(10.0, gt=0)
    response_timeout: float = Field(60.0, gt=0)


class SmtpChannelConfig(_Channel):
    type: Literal["smtp"]
    host: str
    port: int = 25
    sender: str = Field(examples=["noc@huying.example"])
    sender_name: str = Field("", examples=["呼应响应中心"])
    username: str | None = None
    password: SecretStr | None = None
    use_tls: bool = Field(False, description="implicit TLS (port 465)")
    start_tls: bool = Field(False, description="STARTTLS after EHLO (port 587)")
    validate_certs: bool = True
    timeout: float = Field(30.0, gt=0, description="seconds per SMTP step; our choice, well under RFC 5321's minutes")

    @model_validator(mode="after")
    def _one_tls(self) -> SmtpChannelConfig:
        if self.use_tls and self.start_tls:
            raise ValueError("use_tls and start_tls exclude each other")
        return self


class WebhookChannelConfig(_Http):
    type: Literal["webhook"]
    url: str | None = Field(None, description="used when a recipient's address is not itself a URL")
    secret: SecretStr = Field(description="the HMAC-SHA256 key of X-Huying-Signature")
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers, e.g. an API key")


ChannelConfig = Annotated[
    OutboxChannelConfig
    | MasSmsChannelConfig
    | TemplateSmsChannelConfig
    | CmppChannelConfig
    | SmtpChannelConfig
    | WebhookChannelConfig,
    Field(discriminator="type"),
]


class ChannelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: list[ChannelConfig] = Field(default_factory=lambda: [OutboxChannelConfig(name="outbox")])

    @model_validator(mode="after")
    def _unique_names(self) -> ChannelsConfig:
        names = [c.name for c in self.channels]
        if len(names) != len(set(names)):
            raise ValueError(f"channel names must be unique: {names}")
        return self


def load_channels_config(environ: Mapping[str, str] | None = None) -> ChannelsConfig:
    """The deployment's channels from the environment (a JSON list or {"channels": [...]}, inline or in a file)."""
    env = os.environ if environ is None else environ
    if raw := env.get(ENV_JSON):
        data: Any = json.loads(raw)
    elif path := env.get(ENV_FILE):
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    else:
        return ChannelsConfig()
    if isinstance(data, list):
        data = {"channels": data}
    return ChannelsConfig.model_validate(data)


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def _outbox(c: OutboxChannelConfig) -> Channel:
    return OutboxChannel(c.name)


def _mas(c: MasSmsChannelConfig) -> Channel:
    return MasSmsChannel(
        c.name,
        submit_url=c.submit_url,
        query_url=c.query_url,
        ec_name=c.ec_name,
        ap_id=c.ap_id,
        secret_key=c.secret_key.get_secret_value(),
        sign=c.sign,
        add_serial=c.add_serial,
        retry_codes=c.retry_codes,
        timeout=c.timeout(),
    )


def _template(c: TemplateSmsChannelConfig) -> Channel:
    return TemplateSmsChannel(
        c.name,
        url=c.url,
        access_key_id=c.access_key_id,
        access_key_secret=c.access_key_secret.get_secret_value(),
        sign_name=c.sign_name,
        templates=c.templates,
        action=c.action,
        version=c.version,
        callback_secret=_secret(c.callback_secret),
        timeout=c.timeout(),
    )


def _cmpp(c: CmppChannelConfig) -> Channel:
    config = CmppConfig(
        host=c.host,
        port=c.port,
        source_addr=c.source_addr,
        shared_secret=c.shared_secret.get_secret_value(),
        src_id=c.src_id,
        service_id=c.service_id,
        window=c.window,
        connect_timeout=c.connect_timeout,
        response_timeout=c.response_timeout,
    )
    return CmppChannel(c.name, config, signature=c.signature)


def _smtp(c: SmtpChannelConfig) -> Channel:
    return SmtpChannel(
        c.name,
        host=c.host,
        port=c.port,
        sender=c.sender,
        sender_name=c.sender_name,
        username=c.username,
        password=_secret(c.password),
        use_tls=c.use_tls,
        start_tls=c.start_tls,
        validate_certs=c.validate_certs,
        timeout=c.timeout,
    )


def _webhook(c: WebhookChannelConfig) -> Channel:
    return WebhookChannel(c.name, secret=c.secret.get_secret_value(), url=c.url, headers=c.headers, timeout=c.timeout())


BUILDERS: dict[type[BaseModel], Callable[[Any], Channel]] = {
    OutboxChannelConfig: _outbox,
    MasSmsChannelConfig: _mas,
    TemplateSmsChannelConfig: _template,
    CmppChannelConfig: _cmpp,
    SmtpChannelConfig: _smtp,
    WebhookChannelConfig: _webhook,
}


def build_channels(config: ChannelsConfig, *, only: Sequence[str] | None = None) -> dict[str, Channel]:
    """One Channel per configured entry, by name, in configuration order (the first of a kind is its primary);
    `only` keeps the named ones (an unknown name is an error). Each opens its connections lazily, on the first send."""
    chosen = config.channels
    if only is not None:
        known = {c.name for c in chosen}
        if missing := [name for name in only if name not in known]:
            raise ValueError(f"channels not configured: {missing} (configured: {sorted(known)})")
        chosen = [c for c in chosen if c.name in set(only)]
    return {c.name: BUILDERS[type(c)](c) for c in chosen}
