"""reporting's domain package stays pure: no broker, no database, no wall clock, no file or network I/O (zoneinfo
is allowed: the Shanghai periods are a fixed zone, read once)."""

from __future__ import annotations

from pathlib import Path

import pytest

import reporting.domain
from tests.support.purity import impure_uses

pytestmark = pytest.mark.unit

DOMAIN = Path(reporting.domain.__file__).parent
FORBIDDEN_MODULES = (
    "faststream", "aiokafka", "pymongo", "bson", "httpx", "fastapi", "time", "os", "socket", "pathlib", "asyncio",
    "huying.clock", "huying.mongo", "huying.kafka", "huying.service", "reporting.store", "reporting.api",
    "reporting.handlers", "reporting.projection",
)  # fmt: skip


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_and_calls_nothing_impure(path: Path) -> None:
    assert impure_uses(path, modules=FORBIDDEN_MODULES) == []
