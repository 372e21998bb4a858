"""reporting's domain package stays pure: no broker, no database, no wall clock, no file or network I/O (zoneinfo
is allowed: the Shanghai periods are a fixed zone, read once)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reporting.domain

pytestmark = pytest.mark.unit

DOMAIN = Path(reporting.domain.__file__).parent
FORBIDDEN_MODULES = (
    "faststream", "aiokafka", "pymongo", "bson", "httpx", "fastapi", "time", "os", "socket", "pathlib", "asyncio",
    "huying.clock", "huying.mongo", "huying.kafka", "huying.service", "reporting.store", "reporting.api",
    "reporting.handlers", "reporting.projection",
)  # fmt: skip
FORBIDDEN_CALLS = ("now", "utcnow", "today", "utc_now", "monotonic", "open", "read_text")


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_and_calls_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                assert not any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES), name
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
