"""reporting's database: collections and indexes it owns, and the read models the dashboard shows. Today only the
CRM replica (`huying.crm_replica`), whose concurrency rule is the shared one: a record changes only by a write
guarded on its CRM order, so replicas agree."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from huying.rebuild import start_read_models
from huying.service import Runtime


async def setup(runtime: Runtime) -> None:
    await runtime.db.service_lines.create_index("customer_id")
    await start_read_models(runtime)  # the CRM replica: replayed from the beginning if the database is stale


async def _count_by(collection: AsyncCollection, field: str) -> dict[str, int]:
    # A whole-collection $group: the placeholder page only (issue 14 replaces it with incremental read models).
    pipeline = [{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
    return {str(row["_id"]): row["n"] async for row in await collection.aggregate(pipeline)}


async def crm_summary(db: AsyncDatabase) -> dict[str, dict[str, int]]:
    """Customers per tier and service lines per category in reporting's CRM replica."""
    return {
        "customers_by_tier": await _count_by(db.customers, "tier"),
        "service_lines_by_category": await _count_by(db.service_lines, "category"),
    }
