DROP INDEX IF EXISTS conversations_last_inbound_idx;
--bun:split
DROP TABLE IF EXISTS pending_replies;
--bun:split
DROP TABLE IF EXISTS installation;
