"""Short message text in UCS-2 (Msg_Fmt 8), split into concatenated segments and put back together.

A single-segment message holds 140 octets: 70 UCS-2 characters. A long message is sent as segments with TP_udhi = 1
whose content starts with a 6-octet user data header 05 00 03 <ref> <total> <n> (IEI 00: concatenation, 8-bit
reference), leaving 134 octets: 67 characters. A character outside the BMP takes two UTF-16 units and is never cut
in half across segments. The 16-bit-reference form (06 08 04 <ref:2> <total> <n>) is read but not written."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_CONTENT = 140
SINGLE_UNITS = MAX_CONTENT // 2  # 70
CONCAT_UNITS = (MAX_CONTENT - 6) // 2  # 67
MAX_SEGMENTS = 255  # the UDH's total is one octet


@dataclass(frozen=True)
class Segment:
    """One SUBMIT's worth of text: Msg_Content, TP_udhi, Pk_total and Pk_number."""

    content: bytes
    udhi: int
    total: int
    number: int


def _units(text: str) -> bytes:
    return text.encode("utf-16-be", errors="surrogatepass")


def _chunks(units: bytes, width: int) -> list[bytes]:
    chunks, at = [], 0
    while at < len(units):
        end = min(at + width * 2, len(units))
        if end < len(units) and 0xD8 <= units[end - 2] <= 0xDB:  # a high surrogate: keep the pair together
            end -= 2
        chunks.append(units[at:end])
        at = end
    return chunks


def segment_count(text: str) -> int:
    """How many SMS segments `text` costs in UCS-2."""
    units = _units(text)
    return 1 if len(units) <= MAX_CONTENT else len(_chunks(units, CONCAT_UNITS))


def split(text: str, *, reference: int) -> list[Segment]:
    """The segments of `text`; `reference` (0..255) ties a long message's segments together."""
    if not text:
        raise ValueError("an SMS needs some text")
    units = _units(text)
    if len(units) <= MAX_CONTENT:
        return [Segment(units, 0, 1, 1)]
    chunks = _chunks(units, CONCAT_UNITS)
    if len(chunks) > MAX_SEGMENTS:
        raise ValueError(f"{len(chunks)} segments: a long SMS has at most {MAX_SEGMENTS}")
    total = len(chunks)
    return [
        Segment(bytes((5, 0, 3, reference & 0xFF, total, n)) + chunk, 1, total, n)
        for n, chunk in enumerate(chunks, start=1)
    ]


@dataclass(frozen=True)
class Part:
    """A segment as received: its concatenation header (if any) and its text octets."""

    reference: int
    total: int
    number: int
    payload: bytes


def parse(content: bytes, *, udhi: int) -> Part:
    """Read the concatenation header of a received segment (a segment without one is a whole message)."""
    if not udhi:
        return Part(0, 1, 1, content)
    if len(content) < 1 or len(content) < content[0] + 1:
        raise ValueError("TP_udhi is set but the user data header is cut short")
    header, payload = content[1 : content[0] + 1], content[content[0] + 1 :]
    at = 0
    while at + 2 <= len(header):
        iei, size = header[at], header[at + 1]
        data = header[at + 2 : at + 2 + size]
        if iei == 0 and size == 3 and len(data) == 3:
            return Part(data[0], data[1], data[2], payload)
        if iei == 8 and size == 4 and len(data) == 4:
            return Part(data[0] << 8 | data[1], data[2], data[3], payload)
        at += 2 + size
    return Part(0, 1, 1, payload)  # a header without concatenation (e.g. a port number): one whole message


def decode_text(payload: bytes, msg_fmt: int) -> str:
    if msg_fmt == 8:
        return payload.decode("utf-16-be", errors="surrogatepass")
    if msg_fmt == 15:
        return payload.decode("gbk", errors="replace")
    return payload.decode("latin-1")


@dataclass
class Reassembler:
    """Collects the segments of long messages per sender key until each is complete."""

    _partial: dict[tuple[object, int, int], dict[int, bytes]] = field(default_factory=dict)

    def add(self, key: object, part: Part) -> bytes | None:
        """The whole message's octets once the last of its segments arrived, else None."""
        if part.total <= 1:
            return part.payload
        slot = (key, part.reference, part.total)
        parts = self._partial.setdefault(slot, {})
        parts[part.number] = part.payload
        if len(parts) < part.total:
            return None
        del self._partial[slot]
        return b"".join(parts[n] for n in sorted(parts))

    @property
    def incomplete(self) -> int:
        return len(self._partial)
