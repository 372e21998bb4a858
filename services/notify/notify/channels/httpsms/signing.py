"""The signatures of both HTTP SMS shapes, as pure functions (the channels sign with them, the simulator checks
with them, the tests pin them with known answers).

- 云MAS `mac`: MD5, 32 lowercase hex digits, of the fields concatenated in the platform's order with no separator
  and the secret key third: ecName + apId + secretKey + mobiles + content + sign + addSerial.
- The template platform: Aliyun's ACS3-HMAC-SHA256 scheme — a canonical request (method, path, query, the signed
  headers as `name:value` lines, their names, the SHA-256 of the body), hashed, prefixed with the algorithm, and
  signed with HMAC-SHA256 under the access key secret.
- Delivery-report callbacks: HMAC-SHA256 under the callback secret of `timestamp + "\\n" + body`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"


def mas_mac(*fields: str, secret_key: str, secret_at: int = 2) -> str:
    """MD5 of the fields in order with the secret key inserted at `secret_at` (third, after ecName and apId)."""
    parts = [*fields[:secret_at], secret_key, *fields[secret_at:]]
    return hashlib.md5("".join(parts).encode("utf-8")).hexdigest()


def mas_submit_mac(body: Mapping[str, str], *, secret_key: str) -> str:
    fields = ("ecName", "apId", "mobiles", "content", "sign", "addSerial")
    return mas_mac(*(body[name] for name in fields), secret_key=secret_key)


def mas_query_mac(body: Mapping[str, str], *, secret_key: str) -> str:
    return mas_mac(body["ecName"], body["apId"], body["msgGroup"], secret_key=secret_key)


def mas_encode(body: Mapping[str, Any]) -> bytes:
    """The request body as 云MAS wants it: the JSON, UTF-8, base64-encoded."""
    return base64.b64encode(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def mas_decode(raw: bytes) -> dict[str, Any]:
    return json.loads(base64.b64decode(raw, validate=True).decode("utf-8"))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hmac_sha256_hex(secret: str, data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()


def canonical_request(
    *, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """(the canonical request, the signed header names): every `host`, `content-type` and `x-acs-*` header is
    signed, names lowercased and sorted, values trimmed; query parameters sorted and percent-encoded (RFC 3986)."""
    signed = {k.lower(): v.strip() for k, v in headers.items() if k.lower() in ("host", "content-type")}
    signed |= {k.lower(): v.strip() for k, v in headers.items() if k.lower().startswith("x-acs-")}
    names = sorted(signed)
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
    lines = [method.upper(), path or "/", canonical_query, canonical_headers, ";".join(names), sha256_hex(body)]
    return "\n".join(lines), ";".join(names)


def string_to_sign(canonical: str) -> str:
    return f"{ALGORITHM}\n{sha256_hex(canonical.encode('utf-8'))}"


def authorization(*, access_key_id: str, secret: str, canonical: str, signed_headers: str) -> str:
    """The Authorization header value for a canonical request."""
    signature = hmac_sha256_hex(secret, string_to_sign(canonical))
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


def parse_authorization(value: str) -> dict[str, str]:
    """Credential, SignedHeaders and Signature of an Authorization header ({} if it is not ours)."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        return {}
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    return fields if {"Credential", "SignedHeaders", "Signature"} <= fields.keys() else {}


def callback_signature(secret: str, *, timestamp: str, body: bytes) -> str:
    return hmac_sha256_hex(secret, timestamp.encode("ascii") + b"\n" + body)


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
