"""What a CMPP client needs to know about its SP account, and the shapes it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class CmppConfig:
    """One SP account at one ISMG. Timing defaults are the specification's: "T=60秒, N=3次" for an unanswered
    request, "C=3分钟" of silence before a link test, and a sliding window "W=16" of unacknowledged requests."""

    host: str
    port: int
    source_addr: str  # SP enterprise code (企业代码), 6 digits, given by the operator
    shared_secret: str = field(repr=False)
    src_id: str = ""  # SP service code (服务代码) plus an optional extension: the sender the phone shows
    service_id: str = ""
    window: int = 16
    connect_timeout: float = 10.0  # ours: TCP connect plus CONNECT_RESP; the specification leaves it open
    response_timeout: float = 60.0
    active_test_interval: float = 180.0
    active_test_misses: int = 3
    registered_delivery: bool = True
    signature_at: Literal["start", "end"] = "end"  # at the end, so ticket number and deadline come first
    verify_ismg: bool = True  # check AuthenticatorISMG: the gateway must know the secret too


@dataclass(frozen=True)
class InboundMessage:
    """A mobile-originated message (a reply to the SP's number), reassembled if it came in segments."""

    src_terminal_id: str
    dest_id: str
    text: str


def signed(text: str, signature: str, *, at: str = "end") -> str:
    """The text with its 【signature】, which operators require on every SP message."""
    if not signature:
        return text
    mark = signature if signature.startswith("【") else f"【{signature}】"
    return f"{mark}{text}" if at == "start" else f"{text}{mark}"
