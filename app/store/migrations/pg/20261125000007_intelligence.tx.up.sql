-- Background intelligence (issue 7): extraction state, rollup columns for analytics, and the
-- indexes the tally, the reconciliation and the analytics page read through.
ALTER TABLE usage_daily ADD COLUMN required_conversations BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE usage_daily ADD COLUMN complete_conversations BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE usage_daily ADD COLUMN windows_closed_unanswered BIGINT NOT NULL DEFAULT 0;
--bun:split
CREATE INDEX usage_daily_day_idx ON usage_daily (day);
--bun:split
CREATE TABLE conversation_extractions (
    conversation_id  BIGINT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    last_message_id  BIGINT NOT NULL DEFAULT 0,
    runs             BIGINT NOT NULL DEFAULT 0,
    llm_calls        BIGINT NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    error_at         TIMESTAMPTZ,
    extracted_at     TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX messages_ws_created_idx ON messages (workspace_id, created_at);
--bun:split
CREATE INDEX usage_ledger_created_idx ON usage_ledger (created_at);
--bun:split
CREATE INDEX usage_ledger_extraction_idx ON usage_ledger (conversation_id) WHERE purpose = 'extraction';
--bun:split
CREATE INDEX conversations_ended_idx ON conversations (ended_at) WHERE ended_at IS NOT NULL;
--bun:split
CREATE INDEX conversations_ws_window_closed_idx ON conversations (workspace_id, window_closed_at) WHERE window_closed_at IS NOT NULL;
