"""The dashboard's words for the incidents, breaches and escalations, notification outbox and KPI pages:
zh-CN and English (merged into reporting.web.i18n.CATALOG)."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {"zh-CN": {}, "en": {}}
