"""What can go wrong on a CMPP link, split by what the caller may do next: retry safely, give up, or reconcile."""

from __future__ import annotations


class CmppError(Exception):
    """Base of every CMPP failure."""


class CmppDecodeError(CmppError):
    """Bytes that are not a CMPP 3.0 PDU: a malformed length, a short or overlong body, a bad field."""


class CmppSendError(CmppError):
    """A send did not fully succeed; `accepted` are the Msg_Ids of segments the ISMG did accept."""

    def __init__(self, message: str, *, accepted: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.accepted = accepted


class CmppNotSent(CmppSendError):
    """Nothing of the failing segment reached the ISMG (no link, no window slot in time): retrying is safe."""


class CmppConnectError(CmppNotSent):
    """The link could not be opened: no TCP connection, no CONNECT_RESP in time, or an ISMG that failed to prove
    it knows the shared secret. Nothing was submitted; retrying later is safe."""


class CmppAuthError(CmppConnectError):
    """CONNECT_RESP refused the login (status 1 structure, 2 source address, 3 authenticator, 4 version)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"ISMG refused the login: status {status}")
        self.status = status


class CmppLinkLost(CmppError):
    """The TCP connection ended (peer closed, TERMINATE, missed link tests, a decode error, close())."""


class CmppRejected(CmppSendError):
    """The ISMG answered SUBMIT_RESP with a non-zero result: a definite failure (8 = flow control, retry later)."""

    def __init__(self, result: int, *, accepted: tuple[int, ...] = ()) -> None:
        super().__init__(f"ISMG rejected the submit: result {result}", accepted=accepted)
        self.result = result


class CmppOutcomeUnknown(CmppSendError):
    """A SUBMIT was written but no SUBMIT_RESP came (timeout or link lost): the message may have gone out.
    Reconcile by delivery report; never resend blindly."""
