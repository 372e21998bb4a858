"""The domain package stays pure: no broker, no database, no wall clock, no file or network I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sla_watch.domain

pytestmark = pytest.mark.unit

DOMAIN = Path(sla_watch.domain.__file__).parent
FORBIDDEN_MODULES = (
    "faststream",
    "aiokafka",
    "pymongo",
    "motor",
    "bson",
    "httpx",
    "requests",
    "fastapi",
    "time",
    "socket",
    "os",
    "pathlib",
    "yaml",
    "asyncio",
)
# Of the shared package, the domain may use the contract only (not the broker, database, outbox or settings plumbing).
ALLOWED_HUYING = ("huying.events",)
FORBIDDEN_CALLS = ("now", "utcnow", "today", "utc_now", "time", "monotonic", "open", "read_text")


def _modules() -> list[Path]:
    return sorted(DOMAIN.glob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_domain_module_imports_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert not any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES), (path.name, name)
            if name == "huying" or name.startswith("huying."):
                assert name.startswith(ALLOWED_HUYING), (path.name, name)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_domain_module_never_reads_the_clock_or_files(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_domain_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 300
