"""reporting's exports: the KPIs as CSV and XLSX, and the quarterly report (季报) as XLSX and PDF (docs/reporting.md,
"Exports and the quarterly report"). The renderers here are pure (bytes from data); `queries` and `snapshots` are
the database edge."""
