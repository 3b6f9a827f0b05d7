DELETE FROM usage_ledger WHERE purpose = 'replay';
--bun:split
CREATE TABLE usage_ledger_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id       BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id    BIGINT REFERENCES conversations(id) ON DELETE SET NULL,
    message_id         BIGINT REFERENCES messages(id) ON DELETE SET NULL,
    assistant_id       BIGINT,
    conversation_type  TEXT NOT NULL DEFAULT '',
    request_id         TEXT NOT NULL UNIQUE,
    purpose            TEXT NOT NULL CHECK (purpose IN ('reply', 'extraction', 'evaluation')),
    model              TEXT NOT NULL,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    cached_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_nanos         BIGINT NOT NULL DEFAULT 0,
    price_entry        TEXT NOT NULL DEFAULT '',
    charged            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    tallied_at         TEXT
);
--bun:split
INSERT INTO usage_ledger_new (id, workspace_id, conversation_id, message_id, assistant_id, conversation_type, request_id, purpose, model,
    prompt_tokens, cached_tokens, completion_tokens, cost_nanos, price_entry, charged, created_at, tallied_at)
SELECT id, workspace_id, conversation_id, message_id, assistant_id, conversation_type, request_id, purpose, model,
    prompt_tokens, cached_tokens, completion_tokens, cost_nanos, price_entry, charged, created_at, tallied_at
FROM usage_ledger;
--bun:split
DROP TABLE usage_ledger;
--bun:split
ALTER TABLE usage_ledger_new RENAME TO usage_ledger;
--bun:split
CREATE INDEX usage_ledger_untallied_idx ON usage_ledger (created_at) WHERE tallied_at IS NULL;
--bun:split
CREATE INDEX usage_ledger_conversation_idx ON usage_ledger (conversation_id);
--bun:split
CREATE INDEX usage_ledger_created_idx ON usage_ledger (created_at);
--bun:split
CREATE INDEX usage_ledger_extraction_idx ON usage_ledger (conversation_id) WHERE purpose = 'extraction';
--bun:split
DROP TABLE test_run_cases;
--bun:split
DROP TABLE replay_turns;
--bun:split
DROP TABLE replays;
--bun:split
DROP TABLE test_set_runs;
--bun:split
DROP TABLE test_cases;
--bun:split
DROP TABLE test_sets;
--bun:split
ALTER TABLE messages DROP COLUMN assistant_version;
--bun:split
ALTER TABLE conversations DROP COLUMN assistant_version;
--bun:split
ALTER TABLE assistants DROP COLUMN publish_gate;
--bun:split
ALTER TABLE assistants DROP COLUMN draft_version;
--bun:split
ALTER TABLE assistants DROP COLUMN published_version;
--bun:split
DROP TABLE assistant_publications;
--bun:split
DROP TABLE assistant_versions;
