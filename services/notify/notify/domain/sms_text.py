"""SMS text that knows what it costs: UCS-2 segments, a budget, the signature, and no more personal data than needed.

Chinese SMS are sent in UCS-2: one segment holds 70 UTF-16 units, a concatenated one 67 (6 octets go to the
header). A character outside the BMP (an emoji) takes two units and is never cut in half. English texts are counted
the same way: the signature (【中国移动】) is not GSM-7, so the whole message goes out in UCS-2 anyway. The
signature goes last, so the text starts with what the reader needs first (ticket number, deadline, hotline); when
a text is over budget its tail is cut — at a clause boundary when one is near — and the signature is kept.
"""

from __future__ import annotations

SINGLE = 70  # UTF-16 units in one UCS-2 segment (140 octets)
CONCAT = 67  # per segment of a long message (140 − 6 octets of UDH)
ELLIPSIS = "…"
_BREAKS = "。；;，,、 ！!？?）)"
_BREAK_WINDOW = 20  # look this many units back for a clause boundary before cutting mid-phrase


def units(text: str) -> int:
    """Length in UTF-16 code units, as UCS-2 counts it."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _prefix_within(text: str, budget: int) -> int:
    """How many characters of `text` fit in `budget` units."""
    used = 0
    for i, ch in enumerate(text):
        used += units(ch)
        if used > budget:
            return i
    return len(text)


def split(text: str) -> list[str]:
    """The segments' texts: one of ≤ 70 units, or parts of ≤ 67 units; they join back to `text`."""
    if units(text) <= SINGLE:
        return [text] if text else []
    parts, rest = [], text
    while rest:
        n = _prefix_within(rest, CONCAT)
        parts.append(rest[:n])
        rest = rest[n:]
    return parts


def segment_count(text: str) -> int:
    """How many segments `text` costs (0 for an empty text)."""
    return len(split(text))


def capacity(segments: int) -> int:
    """Units that fit in `segments` segments."""
    if segments < 1:
        raise ValueError("a budget is at least one segment")
    return SINGLE if segments == 1 else CONCAT * segments


def _cut(body: str, budget: int) -> str:
    if budget <= 0:
        return ""
    n = _prefix_within(body, budget)
    for i in range(n, max(n - _BREAK_WINDOW, 0), -1):
        if body[i - 1] in _BREAKS:
            return body[:i].rstrip()
    return body[:n]


def fit(body: str, *, signature: str = "", max_segments: int = 1) -> str:
    """`body` + `signature` in at most `max_segments` segments, the tail of the body cut (with …) if it must be."""
    whole = body + signature
    if segment_count(whole) <= max_segments:
        return whole
    room = capacity(max_segments) - units(signature) - units(ELLIPSIS)
    if room <= 0:
        raise ValueError(f"the signature alone does not fit in {max_segments} segment(s)")
    cut = _cut(body, room).rstrip("，,、；; ")
    return cut + ELLIPSIS + signature


def mask_phone(phone: str | None) -> str:
    """138****8000: enough to recognise a number, not enough to call it."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 11 else max(len(digits) - 8, 0)
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]
