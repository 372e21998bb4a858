"""A ticket follows its customer's tier while live; TicketVerified gives an unverified ticket its snapshot."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.domain.automatic import change_tier, verify
from dispatch.domain.model import State
from huying.events import CustomerUpserted, TicketTierChanged, TicketVerified
from tests.unit.dispatch.builders import CONFIG, T0, new_ticket, opened, ticket_in

pytestmark = pytest.mark.unit

NOW = T0 + timedelta(hours=2)


def crm(tier: str, *, customer_id: str = "C-01-0001", at=T0 + timedelta(hours=1), revision: int = 8):
    return CustomerUpserted(
        customer_id=customer_id, name="某银行", tier=tier, city="广州", revision=revision, occurred_at=at
    )


def test_a_live_ticket_takes_the_new_tier_and_says_so_with_an_id_a_redelivery_repeats() -> None:
    ticket = ticket_in(State.IN_PROGRESS)
    change = crm("silver")
    decision = change_tier(ticket, change, now=NOW, policy=CONFIG.policy)
    again = change_tier(ticket, change, now=NOW + timedelta(seconds=5), policy=CONFIG.policy)

    assert decision is not None and again is not None
    [event] = decision.events
    assert isinstance(event, TicketTierChanged)
    assert (event.tier, event.previous_tier, event.crm_revision) == ("silver", "gold", 8)
    assert event.occurred_at == change.occurred_at  # when CRM changed it, not when dispatch heard
    assert (event.ticket_id, event.causation_id) == (ticket.ticket_id, str(change.event_id))
    assert event.event_id == again.events[0].event_id
    assert decision.ticket.tier == "silver" and decision.ticket.version == ticket.version + 1
    assert decision.history[0].action == "tier_changed"
    assert decision.history[0].before == {"tier": "gold"} and decision.history[0].after == {"tier": "silver"}


def test_a_change_older_than_the_ticket_is_dated_at_its_opening() -> None:
    ticket = ticket_in(State.ACCEPTED)
    decision = change_tier(ticket, crm("bronze", at=T0 - timedelta(days=3)), now=NOW, policy=CONFIG.policy)
    assert decision is not None and decision.events[0].occurred_at == ticket.opened_at


@pytest.mark.parametrize("state", [State.DISPATCHED, State.SUSPENDED, State.RESOLVED, State.CONFIRMED])
def test_every_live_state_follows(state: State) -> None:
    assert change_tier(ticket_in(state), crm("bronze"), now=NOW, policy=CONFIG.policy) is not None


@pytest.mark.parametrize(
    "ticket, change",
    [
        (ticket_in(State.CLOSED), crm("silver")),
        (ticket_in(State.CANCELLED), crm("silver")),
        (ticket_in(State.IN_PROGRESS), crm("gold")),  # no change
        (ticket_in(State.IN_PROGRESS), crm("silver", customer_id="C-other")),
        (new_ticket(opened(terminal_only=True, tier="standard")).ticket, crm("silver")),
        (new_ticket(opened(verified=False, tier="standard")).ticket, crm("silver")),
    ],
    ids=["closed", "cancelled", "same tier", "another customer", "terminal-only", "unverified"],
)
def test_tickets_that_do_not_follow(ticket, change) -> None:
    assert change_tier(ticket, change, now=NOW, policy=CONFIG.policy) is None


def test_verification_gives_the_ticket_its_snapshot_once_and_then_it_follows_crm() -> None:
    ticket = new_ticket(opened(verified=False, tier="standard", customer_id="C-01-0001")).ticket
    verified = TicketVerified(
        ticket_id=ticket.ticket_id, customer_id="C-01-0001", service_line_id="L-9", tier="gold", scope="inter_city",
        category="overlay", city="深圳", previous_tier="standard", producer="intake",
    )  # fmt: skip
    decision = verify(ticket, verified, now=NOW, policy=CONFIG.policy)

    assert decision is not None and decision.events == []  # intake already told everyone
    after = decision.ticket
    assert (after.verified, after.tier, after.scope, after.category, after.city, after.service_line_id) == (
        True, "gold", "inter_city", "overlay", "深圳", "L-9",
    )  # fmt: skip
    assert verify(after, verified, now=NOW, policy=CONFIG.policy) is None
    assert change_tier(after, crm("silver"), now=NOW, policy=CONFIG.policy) is not None
