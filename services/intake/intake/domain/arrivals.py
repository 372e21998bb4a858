"""From the contract's messages to arrivals: a report as sent, an alarm as a monitoring report."""

from __future__ import annotations

from huying.events import AlarmCleared, AlarmRaised, Channel, ReportReceived
from intake.domain.model import Arrival

CITY_ATTRIBUTES = ("city", "caller_city")


def from_report(report: ReportReceived) -> Arrival:
    city = next((report.attributes[a] for a in CITY_ATTRIBUTES if isinstance(report.attributes.get(a), str)), None)
    return Arrival(
        source_system=report.source_system,
        external_id=report.external_id,
        channel=report.channel,
        reported_at=report.reported_at,
        customer_id=report.customer_id,
        service_line_id=report.service_line_id,
        contact=report.contact,
        category_hint=report.category_hint,
        description=report.description,
        attributes=dict(report.attributes),
        city_hint=city,
        correlation_id=report.correlation_id,
    )


def from_alarm(alarm: AlarmRaised, *, source_system: str) -> Arrival:
    """An alarm is a monitoring report made at `raised_at` (the restore clock may start there, 表72 note)."""
    return Arrival(
        source_system=source_system,
        external_id=alarm.alarm_id,
        channel=Channel.MONITORING,
        reported_at=alarm.raised_at,
        service_line_id=alarm.service_line_id,
        description=alarm.description or f"{alarm.severity} alarm on {alarm.resource}",
        attributes={"resource": alarm.resource},
        alarm_severity=alarm.severity,
        city_hint=alarm.city,
        correlation_id=alarm.correlation_id,
    )


def from_clearance(cleared: AlarmCleared, *, source_system: str) -> Arrival:
    """A clearance is kept (under its own key) but opens and links nothing."""
    return Arrival(
        source_system=source_system,
        external_id=f"{cleared.alarm_id}:cleared",
        channel=Channel.MONITORING,
        reported_at=cleared.cleared_at,
        service_line_id=cleared.service_line_id,
        attributes={"resource": cleared.resource, "alarm_id": cleared.alarm_id},
        correlation_id=cleared.correlation_id,
    )
