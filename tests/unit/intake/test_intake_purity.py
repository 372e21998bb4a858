"""intake's domain package stays pure: no broker, no database, no wall clock, no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import intake.domain

pytestmark = pytest.mark.unit

DOMAIN = Path(intake.domain.__file__).parent
FORBIDDEN = ("faststream", "aiokafka", "pymongo", "fastapi", "httpx", "asyncio", "time", "os", "huying.clock")


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_no_io_and_reads_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN}
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not {c for c in calls if c.endswith((".now", ".utcnow", "utc_now", ".today"))}
