"""The raw limits measured by bench_raw_limits.py, shared with the other benchmarks for their ratios."""

from __future__ import annotations

import json
import os
from pathlib import Path

LOCAL = Path(os.environ.get("HUYING_LOCAL_DIR", Path(__file__).resolve().parents[2] / ".local"))
PATH = LOCAL / "bench" / "limits.json"


def save(limits: dict[str, float]) -> None:
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(limits, indent=2))


def load() -> dict[str, float]:
    """The limits of this run (bench/run.py always measures them first)."""
    return json.loads(PATH.read_text())


def ratio(value: float, limit_name: str) -> str:
    limit = load().get(limit_name)
    return f"{value / limit:.1%} of raw {limit_name} ({limit:,.0f})" if limit else "(no raw limit measured)"
