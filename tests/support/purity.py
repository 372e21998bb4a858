"""The check each service's domain-purity test runs: which imports and calls of a module are not allowed."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

# Reading the wall clock or a file: never inside a domain package (time is injected, I/O stays at the edges).
CLOCK_AND_FILE_CALLS = ("now", "utcnow", "today", "utc_now", "monotonic", "open", "read_text")


def impure_uses(path: Path, *, modules: Iterable[str], calls: Iterable[str] = CLOCK_AND_FILE_CALLS) -> list[str]:
    """Every import of one of `modules` (or a submodule) and every call of a name in `calls` in the file at `path`."""
    modules, calls = tuple(modules), frozenset(calls)
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [
                f"{path.name}:{node.lineno} imports {name}"
                for name in names
                if any(name == bad or name.startswith(bad + ".") for bad in modules)
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in calls:
                found.append(f"{path.name}:{node.lineno} calls {name}()")
    return found
