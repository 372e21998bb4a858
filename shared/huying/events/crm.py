"""`huying.crm.v1`: CRM master data, a compacted topic keyed by entity — `customer:<customer id>` and
`line:<service line id>` — so compaction keeps the latest record of every customer *and* every line. Records of one
entity stay in order (one key, one partition); a customer and its lines may be read in any order, which the CRM
replica allows (each record is applied only if newer than the stored one, and ticket verification waits for both)."""

from __future__ import annotations

from typing import Literal

from huying.events.base import AssuranceLevel, Category, CustomerGrade, Event, F, Scope, Tier
from huying.events.intake import Contact


class CustomerUpserted(Event):
    """An enterprise (集团) customer was created or changed in CRM."""

    type: Literal["CustomerUpserted"] = "CustomerUpserted"
    customer_id: str = F("CRM customer id.", "C-440100-0001")
    name: str = F("Customer name.", "广州某某银行股份有限公司")
    tier: Tier = F("Service tier.", "gold")
    city: str = F("Home city of the customer.", "广州")
    grade: CustomerGrade = F(
        "provincial (省级), city_diamond (地市钻石级) or ordinary: the first two are important customers (seed 003).",
        "city_diamond",
        default=CustomerGrade.ORDINARY,
    )
    account_manager: Contact | None = F(
        "The customer's account manager (客户经理).", {"name": "李娜", "phone": "13900139000"}, default=None
    )
    contacts: list[Contact] = F(
        "Customer contacts for fault communication.", [{"name": "王伟", "phone": "13800138000"}], default_factory=list
    )
    revision: int = F("CRM revision; a lower revision than the one applied is ignored.", 7, ge=0, default=0)

    def partition_key(self) -> bytes:
        return f"customer:{self.customer_id}".encode()


class ServiceLineUpserted(Event):
    """A service line (专线 or 叠加业务) of a customer was created or changed in CRM."""

    type: Literal["ServiceLineUpserted"] = "ServiceLineUpserted"
    service_line_id: str = F("CRM service line id.", "L-440100-0001-01")
    customer_id: str = F("Owning customer.", "C-440100-0001")
    product: str = F("Product name.", "互联网专线 100M")
    product_family: str | None = F(
        'Product family, what "the same service" means for a mass outage (seed 003: 集团短信, APN, 互联网专线, '
        "语音专线, 电路出租): e.g. internet, group_sms, apn, voice, circuit, vpn. None: the category stands for it.",
        "internet",
        default=None,
    )
    category: Category = F("access (data/internet lines) or overlay (voice, VPN, group SMS).", "access")
    scope: Scope = F("intra_city, inter_city or inter_province.", "intra_city")
    cities: list[str] = F("Cities of the line's endpoints.", ["广州"], min_length=1)
    assurance_level: AssuranceLevel | None = F(
        "Explicit assurance level (业务保障等级 AAA/AA/A/普通); None: it follows the customer's tier.",
        "AA",
        default=None,
    )
    revision: int = F("CRM revision; a lower revision than the one applied is ignored.", 3, ge=0, default=0)

    def partition_key(self) -> bytes:
        return f"line:{self.service_line_id}".encode()
