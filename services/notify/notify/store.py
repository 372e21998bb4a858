"""notify's database: collections and indexes it owns."""

from __future__ import annotations

from huying.service import Runtime


async def setup(runtime: Runtime) -> None:
    await runtime.db.service_lines.create_index("customer_id")
