"""Minimal stdlib clients for readiness checks: Kafka protocol and MongoDB OP_MSG.

Only what a readiness probe needs: Kafka ApiVersions v0 and Metadata v4 (the
oldest Metadata version Kafka 4 still accepts), and the MongoDB `ping` command.
"""

from __future__ import annotations

import itertools
import socket
import struct

_CLIENT_ID = b"huying-infra"
_ids = itertools.count(1)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        buf += chunk
    return bytes(buf)


class _Reader:
    """Big-endian (Kafka) or little-endian (BSON) cursor over bytes."""

    def __init__(self, data: bytes, endian: str = ">") -> None:
        self.data, self.pos, self.endian = data, 0, endian

    def take(self, fmt: str):
        size = struct.calcsize(self.endian + fmt)
        values = struct.unpack_from(self.endian + fmt, self.data, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def kafka_string(self) -> str | None:
        n = self.take("h")
        return None if n < 0 else self.raw(n).decode()


# ---------------------------------------------------------------- Kafka


def kafka_call(host: str, port: int, api_key: int, version: int, body: bytes, timeout: float) -> bytes:
    """Send one request (header v1) and return the response body (header v0 removed)."""
    corr = next(_ids) & 0x7FFFFFFF
    header = struct.pack(">hhih", api_key, version, corr, len(_CLIENT_ID)) + _CLIENT_ID
    payload = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        reply = _recv_exact(sock, size)
    got = struct.unpack_from(">i", reply)[0]
    if got != corr:
        raise ConnectionError(f"correlation id mismatch: sent {corr}, got {got}")
    return reply[4:]


def kafka_api_versions(host: str, port: int, timeout: float = 2.0) -> dict[int, tuple[int, int]]:
    """ApiVersions v0: {api_key: (min_version, max_version)}."""
    r = _Reader(kafka_call(host, port, 18, 0, b"", timeout))
    error = r.take("h")
    if error:
        raise ConnectionError(f"ApiVersions error code {error}")
    return {key: (lo, hi) for key, lo, hi in (r.take("hhh") for _ in range(r.take("i")))}


def kafka_metadata(host: str, port: int, timeout: float = 2.0) -> dict:
    """Metadata v4 for no topics: brokers, cluster id and controller id."""
    body = struct.pack(">ib", 0, 0)  # empty topic list, no auto-creation
    r = _Reader(kafka_call(host, port, 3, 4, body, timeout))
    r.take("i")  # throttle_time_ms
    brokers = []
    for _ in range(r.take("i")):
        node_id = r.take("i")
        broker_host = r.kafka_string()
        broker_port = r.take("i")
        r.kafka_string()  # rack
        brokers.append({"node_id": node_id, "host": broker_host, "port": broker_port})
    cluster_id = r.kafka_string()
    controller_id = r.take("i")
    return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller_id}


# ---------------------------------------------------------------- MongoDB / BSON

_OP_MSG = 2013


def _cstring(s: str) -> bytes:
    return s.encode() + b"\0"


def bson_encode(doc: dict) -> bytes:
    """Encode a flat dict of str/int/float/bool values (enough for commands)."""
    out = bytearray()
    for key, value in doc.items():
        if isinstance(value, bool):
            out += b"\x08" + _cstring(key) + (b"\x01" if value else b"\x00")
        elif isinstance(value, int):
            out += b"\x10" + _cstring(key) + struct.pack("<i", value)
        elif isinstance(value, float):
            out += b"\x01" + _cstring(key) + struct.pack("<d", value)
        elif isinstance(value, str):
            data = value.encode() + b"\0"
            out += b"\x02" + _cstring(key) + struct.pack("<i", len(data)) + data
        else:
            raise TypeError(f"unsupported BSON value for {key!r}: {type(value).__name__}")
    return struct.pack("<i", len(out) + 5) + bytes(out) + b"\0"


_FIXED = {0x01: "d", 0x09: "q", 0x10: "i", 0x11: "Q", 0x12: "q"}


def _bson_value(r: _Reader, kind: int):
    if kind in _FIXED:
        return r.take(_FIXED[kind])
    if kind == 0x02:
        return r.raw(r.take("i"))[:-1].decode("utf-8", "replace")
    if kind in (0x03, 0x04):
        size = struct.unpack_from("<i", r.data, r.pos)[0]
        doc = bson_decode(r.raw(size))
        return doc if kind == 0x03 else list(doc.values())
    if kind == 0x05:
        size = r.take("i")
        return r.raw(size + 1)[1:]
    if kind == 0x07:
        return r.raw(12).hex()
    if kind == 0x08:
        return r.raw(1) != b"\x00"
    if kind == 0x0A:
        return None
    raise ValueError(f"unsupported BSON type 0x{kind:02x}")


def bson_decode(data: bytes) -> dict:
    r = _Reader(data, "<")
    end = r.take("i") - 1
    doc = {}
    while r.pos < end:
        kind = r.take("B")
        name_end = data.index(b"\0", r.pos)
        name = r.raw(name_end - r.pos).decode()
        r.pos += 1
        doc[name] = _bson_value(r, kind)
    return doc


def mongo_command(host: str, port: int, command: dict, timeout: float = 2.0) -> dict:
    """Run one command with OP_MSG (a single kind-0 section) and return the reply document."""
    request_id = next(_ids) & 0x7FFFFFFF
    body = struct.pack("<IB", 0, 0) + bson_encode(command)
    header = struct.pack("<iiii", 16 + len(body), request_id, 0, _OP_MSG)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(header + body)
        length, _, response_to, op_code = struct.unpack("<iiii", _recv_exact(sock, 16))
        reply = _recv_exact(sock, length - 16)
    if op_code != _OP_MSG or response_to != request_id:
        raise ConnectionError(f"unexpected reply opCode={op_code} responseTo={response_to}")
    if reply[4] != 0:
        raise ConnectionError(f"unexpected OP_MSG section kind {reply[4]}")
    return bson_decode(reply[5:])


def mongo_ping(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when {ping: 1} on admin answers ok: 1."""
    reply = mongo_command(host, port, {"ping": 1, "$db": "admin"}, timeout)
    return reply.get("ok") == 1
