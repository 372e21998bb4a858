"""notify's database: collections and indexes it owns. Today only the CRM replica (`huying.crm_replica`), whose
concurrency rule is the shared one: a record changes only by a write guarded on its CRM order, so replicas agree."""

from __future__ import annotations

from huying.rebuild import start_read_models
from huying.service import Runtime


async def setup(runtime: Runtime) -> None:
    await runtime.db.service_lines.create_index("customer_id")
    await start_read_models(runtime)  # the CRM replica: replayed from the beginning if the database is stale
