"""What an HTTP exchange with a gateway means for a send, decided without I/O.

The line that matters is whether the request may have reached the far end: before that (no connection, the pool or
the write gave up) a resend is safe; after it (no answer in time, the peer hung up mid-answer) the message may be out,
so the send is `unknown` and is never blindly resent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from notify.channels.base import SendResult

# "5xx and 429 → retry": the gateway said "later". 408 (it gave up waiting for our request) and 425 too.
RETRY_STATUSES = frozenset({408, 425, 429})
# A proxy's 504 is a timeout after the request went upstream: the platform may have taken it (our choice, see docs).
AMBIGUOUS_STATUSES = frozenset({504})

# Nothing of the request reached the gateway: safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout, httpx.WriteError)
# The request was written and no whole answer came: it may have been taken.
MAYBE_SENT = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


def retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def for_status(status: int, *, headers: httpx.Headers | dict[str, str], now: datetime, detail: str = "") -> SendResult:
    """The verdict on a non-2xx answer: 5xx and 429 retry (with the gateway's Retry-After), 504 unknown, other 4xx
    rejected."""
    error = f"HTTP {status}{': ' + detail[:200] if detail else ''}"
    if status in AMBIGUOUS_STATUSES:
        return SendResult.unknown(error)
    if status >= 500 or status in RETRY_STATUSES:
        return SendResult.retry(error, retry_after=retry_after(headers.get("retry-after"), now=now))
    return SendResult.rejected(error)


def for_exception(error: httpx.HTTPError) -> SendResult:
    """The verdict on a transport failure: before the request was written → retry, after → unknown."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, NOT_SENT):
        return SendResult.retry(text)
    if isinstance(error, MAYBE_SENT):
        return SendResult.unknown(text)
    return SendResult.retry(text)  # other transport errors (a bad URL, TLS setup) fail before anything is written


async def exchange(
    call: Callable[[], Awaitable[httpx.Response]], *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> httpx.Response | SendResult:
    """Run one HTTP call: its 2xx response to read further, or the SendResult any other outcome means."""
    try:
        response = await call()
    except httpx.HTTPError as error:
        return for_exception(error)
    if response.is_success:
        return response
    return for_status(response.status_code, headers=response.headers, now=now(), detail=response.text)
