"""SMS over CMPP 3.0 (China Mobile Peer to Peer) to an operator's ISMG: a pure codec, an asyncio client with a
flow-control window, and an ISMG simulator for tests and local runs. See docs/notify-cmpp.md."""

from notify.channels.cmpp.client import CmppClient, CmppConfig, InboundMessage, signed
from notify.channels.cmpp.codec import PduStream, decode, encode
from notify.channels.cmpp.errors import (
    CmppAuthError,
    CmppConnectError,
    CmppDecodeError,
    CmppError,
    CmppLinkLost,
    CmppNotSent,
    CmppOutcomeUnknown,
    CmppRejected,
    CmppSendError,
)
from notify.channels.cmpp.messages import StatusReport
from notify.channels.cmpp.simulation import Faults, ReceivedMessage
from notify.channels.cmpp.simulator import IsmgSimulator

__all__ = [
    "CmppAuthError",
    "CmppClient",
    "CmppConfig",
    "CmppConnectError",
    "CmppDecodeError",
    "CmppError",
    "CmppLinkLost",
    "CmppNotSent",
    "CmppOutcomeUnknown",
    "CmppRejected",
    "CmppSendError",
    "Faults",
    "InboundMessage",
    "IsmgSimulator",
    "PduStream",
    "ReceivedMessage",
    "StatusReport",
    "decode",
    "encode",
    "signed",
]
