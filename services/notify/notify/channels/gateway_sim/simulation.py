"""What the HTTP SMS gateway simulator can be told (`GatewayFaults`), what it records (`Received`), and how it judges
a request of either shape like the platform would (pure: no I/O)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from notify.channels.httpsms import signing

PHONE = re.compile(r"^1\d{10}$")  # a mainland mobile number, the only kind these platforms take


@dataclass
class GatewayFaults:
    """Misbehaviour on demand; change the fields while the simulator runs."""

    status: int | None = None  # answer submits with this HTTP status (503, 429, 400, …) and record nothing
    retry_after: str | None = None  # the Retry-After header sent with `status`
    times: int | None = None  # `status` for this many submits only, then back to normal (None: until changed)
    stall: float | None = None  # seconds before answering a submit (math.inf: never answer)
    stall_records: bool = True  # a stalled submit is taken and recorded first (the ambiguous case) or not
    mas_rspcod: str | None = None  # answer 云MAS submits with success=false and this rspcod
    template_code: str | None = None  # answer template submits with this Code (e.g. isv.BUSINESS_LIMIT_CONTROL)
    report_status: str = "DELIVRD"  # the delivery report's status (anything else is a failed delivery)
    report_delay: float = 0.0  # seconds from taking a message to its report (query result or callback)

    def take_status(self) -> int | None:
        """The forced HTTP status for the next submit, counting down `times`."""
        if self.status is None:
            return None
        status = self.status
        if self.times is not None:
            self.times -= 1
            if self.times <= 0:
                self.status, self.times = None, None
        return status

    @property
    def never_answers(self) -> bool:
        return self.stall is not None and math.isinf(self.stall)


@dataclass(frozen=True)
class Received:
    """One message the gateway took."""

    shape: str  # "mas" or "template"
    phone: str
    gateway_id: str  # msgGroup or BizId
    text: str | None = None  # 云MAS: the content
    sign: str | None = None
    template_code: str | None = None
    params: Mapping[str, str] | None = None
    out_id: str | None = None  # the template platform's client message id

    @property
    def what(self) -> tuple[object, ...]:
        """What the recipient sees (for "none twice" checks)."""
        params = tuple(sorted((self.params or {}).items()))
        return (self.shape, self.phone, self.text, self.template_code, params)


def check_mas_submit(body: Mapping[str, Any], *, accounts: Mapping[tuple[str, str], str]) -> str | None:
    """The rspcod a 云MAS platform answers a malformed or unsigned submit with, None if it is good."""
    secret = accounts.get((str(body.get("ecName")), str(body.get("apId"))))
    if secret is None:
        return "InvalidUsrOrPwd"
    fields = ("mobiles", "content", "sign", "addSerial", "mac")
    if any(not isinstance(body.get(name), str) for name in fields):
        return "InvalidMessage"
    if not signing.same(body["mac"], signing.mas_submit_mac(body, secret_key=secret)):
        return "IllegalMac"
    if not body["sign"]:
        return "NoSignId"
    mobiles = body["mobiles"].split(",")
    if len(mobiles) > 5000:
        return "TooManyMobiles"
    if not body["content"] or any(not PHONE.match(m) for m in mobiles):
        return "InvalidMessage"
    return None


def check_template_signature(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, str],
) -> str | None:
    """The error Code for a request whose ACS3 signature does not hold, None if it does."""
    fields = signing.parse_authorization(headers.get("authorization", ""))
    if not fields:
        return "MissingAuthorization"
    secret = keys.get(fields["Credential"])
    if secret is None:
        return "InvalidAccessKeyId.NotFound"
    if headers.get("x-acs-content-sha256") != signing.sha256_hex(body):
        return "ContentSHA256NotMatch"
    names = fields["SignedHeaders"].split(";")
    if not {"host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} <= set(names):
        return "IncompleteSignature"
    signed = {name: headers.get(name, "") for name in names}
    canonical, _ = signing.canonical_request(method=method, path=path, query=query, headers=signed, body=body)
    expected = signing.hmac_sha256_hex(secret, signing.string_to_sign(canonical))
    return None if signing.same(fields["Signature"], expected) else "SignatureDoesNotMatch"


def check_template_submit(body: Mapping[str, Any], *, templates: Mapping[str, tuple[str, ...]] | None) -> str | None:
    """The platform's Code for a SendSms it will not take, None if it takes it."""
    phone, code = str(body.get("PhoneNumbers", "")), str(body.get("TemplateCode", ""))
    if not PHONE.match(phone):
        return "isv.MOBILE_NUMBER_ILLEGAL"
    if not body.get("SignName"):
        return "isv.SMS_SIGNATURE_ILLEGAL"
    try:
        params = json.loads(body.get("TemplateParam") or "{}")
    except ValueError:
        return "isv.INVALID_JSON_PARAM"
    if templates is not None:
        if code not in templates:
            return "isv.SMS_TEMPLATE_ILLEGAL"
        if not set(templates[code]) <= set(params):
            return "isv.TEMPLATE_MISSING_PARAMETERS"
    return None
