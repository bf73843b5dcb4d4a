-- Each lease sync writes its own id, so a replica whose sync timed out can tell afterwards
-- whether that transaction committed (and must not report the same spend twice).
ALTER TABLE budget_leases ADD COLUMN last_sync_id text;
