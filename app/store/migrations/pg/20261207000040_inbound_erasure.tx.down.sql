DROP INDEX IF EXISTS inbound_events_processed_idx;
--bun:split
DROP INDEX IF EXISTS inbound_events_conversation_idx;
--bun:split
ALTER TABLE inbound_events DROP COLUMN IF EXISTS conversation_id;
