"""The dashboard's words for the ticket page's operator actions and the queue's escalation highlights:
zh-CN and English (merged into reporting.web.i18n.CATALOG)."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {"zh-CN": {}, "en": {}}
