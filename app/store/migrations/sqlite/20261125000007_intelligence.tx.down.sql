DROP INDEX IF EXISTS conversations_ws_window_closed_idx;
--bun:split
DROP INDEX IF EXISTS conversations_ended_idx;
--bun:split
DROP INDEX IF EXISTS usage_ledger_extraction_idx;
--bun:split
DROP INDEX IF EXISTS usage_ledger_created_idx;
--bun:split
DROP INDEX IF EXISTS messages_ws_created_idx;
--bun:split
DROP TABLE IF EXISTS conversation_extractions;
--bun:split
DROP INDEX IF EXISTS usage_daily_day_idx;
--bun:split
ALTER TABLE usage_daily DROP COLUMN windows_closed_unanswered;
--bun:split
ALTER TABLE usage_daily DROP COLUMN complete_conversations;
--bun:split
ALTER TABLE usage_daily DROP COLUMN required_conversations;
