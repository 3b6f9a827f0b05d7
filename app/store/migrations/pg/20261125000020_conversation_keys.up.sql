-- A covering index for the candidates of a search: the ids with their workspace and sort keys,
-- read by an index-only scan (see BENCHMARKS.md). Built concurrently, so not in a transaction.
CREATE INDEX CONCURRENTLY IF NOT EXISTS conversations_id_keys_idx ON conversations (id) INCLUDE (workspace_id, last_message_at, cost_nanos);
