DROP TABLE IF EXISTS messages_fts;
--bun:split
DROP TABLE IF EXISTS inbound_events;
--bun:split
DROP TABLE IF EXISTS usage_daily;
--bun:split
DROP TABLE IF EXISTS usage_ledger;
--bun:split
DROP TABLE IF EXISTS conversation_variables;
--bun:split
DROP TABLE IF EXISTS messages;
--bun:split
DROP TABLE IF EXISTS conversation_counts;
--bun:split
DROP TABLE IF EXISTS conversations;
--bun:split
DROP TABLE IF EXISTS assistants;
--bun:split
DROP TABLE IF EXISTS api_keys;
--bun:split
DROP TABLE IF EXISTS users;
--bun:split
DROP TABLE IF EXISTS workspaces;
