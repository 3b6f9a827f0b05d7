DROP INDEX IF EXISTS message_feedback_ws_created_idx;
--bun:split
DROP INDEX IF EXISTS message_feedback_updated_idx;
--bun:split
DROP INDEX IF EXISTS conversations_csat_at_idx;
--bun:split
DROP INDEX IF EXISTS conversation_ends_ws_ended_idx;
--bun:split
DROP INDEX IF EXISTS evaluation_runs_finished_idx;
--bun:split
DROP TABLE IF EXISTS rollup_watermarks;
--bun:split
DROP TABLE IF EXISTS quality_daily;
