INSERT INTO messages_fts(messages_fts, rank) VALUES ('secure-delete', 0);
--bun:split
DROP INDEX IF EXISTS inbound_events_processed_idx;
--bun:split
DROP INDEX IF EXISTS inbound_events_conversation_idx;
--bun:split
ALTER TABLE inbound_events DROP COLUMN conversation_id;
