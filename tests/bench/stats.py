"""Percentiles and the one-line latency table every benchmark prints."""

from __future__ import annotations


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank); NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def table(label: str, values: list[float], width: int = 46) -> str:
    """p50 / p90 / p99 / max of latencies given in seconds, printed in milliseconds."""
    cells = "  ".join(f"p{p} {pct(values, p) * 1000:8.1f} ms" for p in (50, 90, 99))
    return f"  {label:<{width}} {cells}  max {max(values, default=float('nan')) * 1000:8.1f} ms  (n={len(values)})"
