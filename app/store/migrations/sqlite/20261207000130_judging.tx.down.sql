DROP TABLE IF EXISTS saved_views;
--bun:split
DROP TABLE IF EXISTS corrections;
--bun:split
DROP TABLE IF EXISTS message_feedback;
--bun:split
DROP TABLE IF EXISTS notes;
--bun:split
DROP TABLE IF EXISTS conversation_tags;
--bun:split
DROP TABLE IF EXISTS tags;
--bun:split
DROP TABLE IF EXISTS evaluation_values;
--bun:split
DROP TABLE IF EXISTS evaluation_runs;
--bun:split
DROP TABLE IF EXISTS conversation_ends;
--bun:split
DROP INDEX IF EXISTS conversations_ws_outcome_idx;
--bun:split
DROP INDEX IF EXISTS conversations_ws_sentiment_idx;
--bun:split
DROP INDEX IF EXISTS conversations_ws_review_idx;
--bun:split
DROP INDEX IF EXISTS conversations_ws_assignee_idx;
--bun:split
DROP INDEX IF EXISTS conversations_ws_csat_estimate_idx;
--bun:split
ALTER TABLE assistants DROP COLUMN csat_whatsapp;
--bun:split
ALTER TABLE assistants DROP COLUMN evaluators;
--bun:split
ALTER TABLE conversations DROP COLUMN cost_evaluation_nanos;
--bun:split
ALTER TABLE conversations DROP COLUMN cost_extraction_nanos;
--bun:split
ALTER TABLE conversations DROP COLUMN assignee_id;
--bun:split
ALTER TABLE conversations DROP COLUMN reviewed_at;
--bun:split
ALTER TABLE conversations DROP COLUMN reviewed_by;
--bun:split
ALTER TABLE conversations DROP COLUMN reviewed_by_id;
--bun:split
ALTER TABLE conversations DROP COLUMN review_status;
--bun:split
ALTER TABLE conversations DROP COLUMN csat_end;
--bun:split
ALTER TABLE conversations DROP COLUMN csat_at;
--bun:split
ALTER TABLE conversations DROP COLUMN csat_comment;
--bun:split
ALTER TABLE conversations DROP COLUMN csat_score;
--bun:split
ALTER TABLE conversations DROP COLUMN evaluation_status;
--bun:split
ALTER TABLE conversations DROP COLUMN language;
--bun:split
ALTER TABLE conversations DROP COLUMN csat_estimate;
--bun:split
ALTER TABLE conversations DROP COLUMN sentiment;
--bun:split
ALTER TABLE conversations DROP COLUMN outcome;
--bun:split
ALTER TABLE conversations DROP COLUMN summary;
--bun:split
ALTER TABLE conversations DROP COLUMN end_count;
--bun:split
ALTER TABLE conversations DROP COLUMN end_reason;
