"""dispatch's domain package stays pure: no broker, no database, no wall clock, no file or network I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

import dispatch.domain
from tests.support.purity import impure_uses

pytestmark = pytest.mark.unit

DOMAIN = Path(dispatch.domain.__file__).parent
FORBIDDEN_MODULES = (
    "faststream",
    "aiokafka",
    "pymongo",
    "bson",
    "httpx",
    "fastapi",
    "jwt",
    "yaml",
    "time",
    "os",
    "socket",
    "pathlib",
    "asyncio",
    "zoneinfo",
    "huying.clock",
    "huying.mongo",
    "huying.kafka",
    "dispatch.store",
    "dispatch.operations",
    "dispatch.settings",
)


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_and_calls_nothing_impure(path: Path) -> None:
    assert impure_uses(path, modules=FORBIDDEN_MODULES) == []
