-- Assistant versions, replays and test sets (issue 15). Every saved change to an assistant's
-- behaviour (system prompt, first message, model, temperature, variables, evaluators) is an
-- immutable numbered version; the assistants row keeps a copy of the published version's
-- behaviour (what answers customers) and names it (published_version) and the draft
-- (draft_version, 0 for none). Conversations record the version they started with, assistant
-- messages the version that wrote them (NULL before versions existed). A replay regenerates a
-- conversation's assistant turns with a version, never touching the original; a test set run
-- replays every case of a set and grades it. Replays are charged to the ledger as 'replay',
-- each row naming its replay (SQLite cannot change a CHECK constraint: the ledger is rebuilt,
-- same columns, rows, ids and indexes, plus replay_id).
CREATE TABLE assistant_versions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    assistant_id   BIGINT NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    number         INTEGER NOT NULL,
    system_prompt  TEXT NOT NULL DEFAULT '',
    first_message  TEXT NOT NULL DEFAULT '',
    model          TEXT NOT NULL DEFAULT '',
    temperature    REAL NOT NULL DEFAULT 0,
    variables      TEXT NOT NULL DEFAULT '[]',
    evaluators     TEXT NOT NULL DEFAULT '[]',
    created_by_id  BIGINT,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    UNIQUE (assistant_id, number)
);
--bun:split
CREATE TABLE assistant_publications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    assistant_id     BIGINT NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    published_by_id  BIGINT,
    published_by     TEXT NOT NULL DEFAULT '',
    published_at     TEXT NOT NULL
);
--bun:split
CREATE INDEX assistant_publications_assistant_idx ON assistant_publications (assistant_id, number, published_at);
--bun:split
ALTER TABLE assistants ADD COLUMN published_version INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE assistants ADD COLUMN draft_version INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE assistants ADD COLUMN publish_gate INTEGER NOT NULL DEFAULT 0;
--bun:split
INSERT INTO assistant_versions (workspace_id, assistant_id, number, system_prompt, first_message, model, temperature, variables, evaluators, created_at)
SELECT workspace_id, id, 1, system_prompt, first_message, model, temperature, variables, evaluators, updated_at FROM assistants;
--bun:split
INSERT INTO assistant_publications (workspace_id, assistant_id, number, published_at)
SELECT workspace_id, id, 1, updated_at FROM assistants;
--bun:split
UPDATE assistants SET published_version = 1;
--bun:split
ALTER TABLE conversations ADD COLUMN assistant_version INTEGER;
--bun:split
ALTER TABLE messages ADD COLUMN assistant_version INTEGER;
--bun:split
CREATE TABLE test_sets (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    assistant_id   BIGINT NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    created_by_id  BIGINT,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    UNIQUE (assistant_id, name_key)
);
--bun:split
CREATE INDEX test_sets_workspace_idx ON test_sets (workspace_id, id);
--bun:split
CREATE TABLE test_cases (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    test_set_id      BIGINT NOT NULL REFERENCES test_sets(id) ON DELETE CASCADE,
    conversation_id  BIGINT REFERENCES conversations(id) ON DELETE SET NULL,
    title            TEXT NOT NULL DEFAULT '',
    turns            TEXT NOT NULL DEFAULT '[]',
    created_by_id    BIGINT,
    created_by       TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    UNIQUE (test_set_id, conversation_id)
);
--bun:split
CREATE TABLE test_set_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    test_set_id    BIGINT NOT NULL REFERENCES test_sets(id) ON DELETE CASCADE,
    assistant_id   BIGINT NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    cases_total    INTEGER NOT NULL DEFAULT 0,
    cases_done     INTEGER NOT NULL DEFAULT 0,
    cases_passed   INTEGER NOT NULL DEFAULT 0,
    cost_nanos     BIGINT NOT NULL DEFAULT 0,
    totals         TEXT NOT NULL DEFAULT '{}',
    error          TEXT NOT NULL DEFAULT '',
    created_by_id  BIGINT,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT
);
--bun:split
CREATE INDEX test_set_runs_set_idx ON test_set_runs (test_set_id, version, id);
--bun:split
CREATE INDEX test_set_runs_pending_idx ON test_set_runs (created_at, id) WHERE status IN ('pending', 'running');
--bun:split
CREATE TABLE replays (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id          BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id       BIGINT REFERENCES conversations(id) ON DELETE SET NULL,
    assistant_id          BIGINT NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    version               INTEGER NOT NULL,
    test_run_id           BIGINT REFERENCES test_set_runs(id) ON DELETE CASCADE,
    test_case_id          BIGINT REFERENCES test_cases(id) ON DELETE SET NULL,
    status                TEXT NOT NULL DEFAULT 'pending',
    turns_total           INTEGER NOT NULL DEFAULT 0,
    turns_done            INTEGER NOT NULL DEFAULT 0,
    cost_nanos            BIGINT NOT NULL DEFAULT 0,
    original_cost_nanos   BIGINT NOT NULL DEFAULT 0,
    original_evaluations  TEXT NOT NULL DEFAULT '[]',
    replayed_evaluations  TEXT NOT NULL DEFAULT '[]',
    error                 TEXT NOT NULL DEFAULT '',
    created_by_id         BIGINT,
    created_by            TEXT NOT NULL DEFAULT '',
    created_at            TEXT NOT NULL,
    started_at            TEXT,
    finished_at           TEXT,
    UNIQUE (test_run_id, test_case_id)
);
--bun:split
CREATE INDEX replays_conversation_idx ON replays (conversation_id, id);
--bun:split
CREATE INDEX replays_pending_idx ON replays (created_at, id) WHERE status IN ('pending', 'running');
--bun:split
CREATE TABLE replay_turns (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id         BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    replay_id            BIGINT NOT NULL REFERENCES replays(id) ON DELETE CASCADE,
    idx                  INTEGER NOT NULL,
    customer             TEXT NOT NULL DEFAULT '',
    original             TEXT NOT NULL DEFAULT '',
    original_message_id  BIGINT,
    original_version     INTEGER,
    original_cost_nanos  BIGINT NOT NULL DEFAULT 0,
    original_latency_ms  BIGINT,
    expected             TEXT NOT NULL DEFAULT '',
    replayed             TEXT,
    model                TEXT NOT NULL DEFAULT '',
    prompt_tokens        INTEGER NOT NULL DEFAULT 0,
    cached_tokens        INTEGER NOT NULL DEFAULT 0,
    completion_tokens    INTEGER NOT NULL DEFAULT 0,
    cost_nanos           BIGINT NOT NULL DEFAULT 0,
    latency_ms           BIGINT NOT NULL DEFAULT 0,
    error                TEXT NOT NULL DEFAULT '',
    replayed_at          TEXT,
    UNIQUE (replay_id, idx)
);
--bun:split
CREATE TABLE test_run_cases (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    run_id         BIGINT NOT NULL REFERENCES test_set_runs(id) ON DELETE CASCADE,
    case_id        BIGINT REFERENCES test_cases(id) ON DELETE SET NULL,
    replay_id      BIGINT REFERENCES replays(id) ON DELETE SET NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    passed         INTEGER,
    evaluations    TEXT NOT NULL DEFAULT '[]',
    judgements     TEXT NOT NULL DEFAULT '[]',
    cost_nanos     BIGINT NOT NULL DEFAULT 0,
    latency_ms     BIGINT NOT NULL DEFAULT 0,
    error          TEXT NOT NULL DEFAULT '',
    finished_at    TEXT,
    UNIQUE (run_id, case_id)
);
--bun:split
CREATE TABLE usage_ledger_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id       BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id    BIGINT REFERENCES conversations(id) ON DELETE SET NULL,
    message_id         BIGINT REFERENCES messages(id) ON DELETE SET NULL,
    assistant_id       BIGINT,
    conversation_type  TEXT NOT NULL DEFAULT '',
    request_id         TEXT NOT NULL UNIQUE,
    purpose            TEXT NOT NULL CHECK (purpose IN ('reply', 'extraction', 'evaluation', 'replay')),
    model              TEXT NOT NULL,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    cached_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_nanos         BIGINT NOT NULL DEFAULT 0,
    price_entry        TEXT NOT NULL DEFAULT '',
    charged            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    tallied_at         TEXT,
    replay_id          BIGINT REFERENCES replays(id) ON DELETE SET NULL
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
CREATE INDEX usage_ledger_replay_idx ON usage_ledger (replay_id) WHERE replay_id IS NOT NULL;
