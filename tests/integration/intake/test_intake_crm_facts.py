"""The CRM facts a ticket's snapshot carries (issue 12): the customer's grade (important: provincial or city
diamond), the line's explicit assurance level and its product family — on TicketOpened when the ticket opens
verified, on TicketVerified when a ticket opened unverified gets its CRM data later through the CRM topic."""

from __future__ import annotations

import pytest

from huying.events import TicketOpened, TicketVerified
from tests.integration.intake.conftest import customer, line, report
from tests.support.kafka import produce, wait_until

pytestmark = pytest.mark.integration

VOICE_AAA = {"product": "语音专线", "product_family": "voice", "assurance_level": "AAA"}
CIRCUIT_AA = {"product": "数据专线 10M", "product_family": "circuit", "assurance_level": "AA"}


async def test_a_verified_tickets_opening_snapshot_carries_grade_assurance_level_and_product_family(intake, t0) -> None:
    await intake.seed(
        customer("C-f1", tier="silver", city="韶关", grade="city_diamond"),
        line("L-f1", "C-f1", "overlay", cities=("韶关",), **VOICE_AAA),
        customer("C-f2", tier="bronze", city="韶关"),  # CRM sets no grade: ordinary; the line sets no level or family
        line("L-f2", "C-f2", cities=("韶关",)),
    )
    first = (await intake.post(report("cf-1", service_line_id="L-f1", reported_at=t0.isoformat()))).json()
    plain = (await intake.post(report("cf-2", service_line_id="L-f2", reported_at=t0.isoformat()))).json()
    assert (first["verified"], plain["verified"]) == (True, True)

    opened = {e.external_id: e for e in await intake.published(":cf-") if isinstance(e, TicketOpened)}
    assert (opened["cf-1"].customer_grade, opened["cf-1"].assurance_level, opened["cf-1"].product_family) == (
        "city_diamond",
        "AAA",
        "voice",
    )
    assert opened["cf-1"].tier == "silver"  # the tier stays the customer's; the level is the line's
    assert (opened["cf-2"].customer_grade, opened["cf-2"].assurance_level, opened["cf-2"].product_family) == (
        "ordinary",
        None,
        None,
    )


async def test_a_ticket_verified_later_gets_the_crm_facts_on_ticket_verified(intake, t0) -> None:
    body = report("cf-3", customer_id="C-f3", service_line_id="L-f3", reported_at=t0.isoformat())
    unknown = (await intake.post(body)).json()
    assert unknown["verified"] is False

    crm = [
        customer("C-f3", tier="gold", city="清远", grade="provincial"),
        line("L-f3", "C-f3", cities=("清远", "广州"), **CIRCUIT_AA),
    ]
    await produce(intake.bootstrap, intake.topic("crm"), *crm, key=b"C-f3")

    async def verified() -> list[TicketVerified]:
        return [e for e in await intake.published(":cf-3") if isinstance(e, TicketVerified)]

    [upgrade] = await wait_until(verified, timeout=30)
    [opened] = [e for e in await intake.published(":cf-3") if isinstance(e, TicketOpened)]
    assert (opened.customer_grade, opened.assurance_level, opened.product_family) == (None, None, None)
    assert upgrade.ticket_id == unknown["ticket_id"]
    assert (upgrade.tier, upgrade.scope, upgrade.customer_grade, upgrade.assurance_level, upgrade.product_family) == (
        "gold",
        "inter_city",
        "provincial",
        "AA",
        "circuit",
    )
