"""Delivery: notifications recorded once per dedup key, claimed by workers with a lease, sent through channels
behind a circuit breaker with failover, retried with backoff, settled by delivery reports (docs/notify.md)."""
