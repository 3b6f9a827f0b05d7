CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
--bun:split
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL DEFAULT 'admin',
    created_at     TEXT NOT NULL,
    last_login_at  TEXT
);
--bun:split
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
--bun:split
CREATE INDEX users_workspace_idx ON users (workspace_id);
--bun:split
CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_by    BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
--bun:split
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at);
--bun:split
CREATE TABLE assistants (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id               BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                       TEXT NOT NULL,
    system_prompt              TEXT NOT NULL DEFAULT '',
    first_message              TEXT NOT NULL DEFAULT '',
    model                      TEXT NOT NULL DEFAULT '',
    temperature                REAL NOT NULL DEFAULT 0.7,
    variables                  TEXT NOT NULL DEFAULT '[]',
    prechat_fields             TEXT NOT NULL DEFAULT '[]',
    allowed_origins            TEXT NOT NULL DEFAULT '[]',
    widget_settings            TEXT NOT NULL DEFAULT '{}',
    public_key                 TEXT NOT NULL UNIQUE,
    whatsapp_phone_number_id   TEXT UNIQUE,
    whatsapp_access_token_enc  TEXT NOT NULL DEFAULT '',
    disabled                   INTEGER NOT NULL DEFAULT 0,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);
--bun:split
CREATE INDEX assistants_workspace_idx ON assistants (workspace_id, name);
--bun:split
CREATE TABLE conversations (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id          BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    assistant_id          BIGINT REFERENCES assistants(id) ON DELETE SET NULL,
    type                  TEXT NOT NULL CHECK (type IN ('test', 'widget', 'whatsapp')),
    customer              TEXT NOT NULL DEFAULT '',
    customer_name         TEXT NOT NULL DEFAULT '',
    started_at            TEXT NOT NULL,
    last_message_at       TEXT NOT NULL,
    last_inbound_at       TEXT,
    last_message_preview  TEXT NOT NULL DEFAULT '',
    last_message_role     TEXT NOT NULL DEFAULT '',
    message_count         INTEGER NOT NULL DEFAULT 0,
    user_message_count    INTEGER NOT NULL DEFAULT 0,
    prompt_tokens         BIGINT NOT NULL DEFAULT 0,
    cached_tokens         BIGINT NOT NULL DEFAULT 0,
    completion_tokens     BIGINT NOT NULL DEFAULT 0,
    cost_nanos            BIGINT NOT NULL DEFAULT 0,
    charged               INTEGER NOT NULL DEFAULT 1,
    variables             TEXT NOT NULL DEFAULT '{}',
    window_expires_at     TEXT,
    window_closed_at      TEXT,
    ai_enabled            INTEGER NOT NULL DEFAULT 1,
    ended_at              TEXT,
    last_error            TEXT NOT NULL DEFAULT '',
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);
--bun:split
CREATE INDEX conversations_ws_last_idx ON conversations (workspace_id, last_message_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_type_last_idx ON conversations (workspace_id, type, last_message_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_assistant_last_idx ON conversations (workspace_id, assistant_id, last_message_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_cost_idx ON conversations (workspace_id, cost_nanos DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_customer_idx ON conversations (workspace_id, customer, last_message_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_started_idx ON conversations (workspace_id, started_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_window_idx ON conversations (window_expires_at) WHERE type = 'whatsapp' AND window_expires_at IS NOT NULL;
--bun:split
CREATE UNIQUE INDEX conversations_whatsapp_thread_key ON conversations (assistant_id, customer) WHERE type = 'whatsapp';
--bun:split
CREATE TABLE conversation_counts (
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type          TEXT NOT NULL,
    count         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, type)
);
--bun:split
CREATE TABLE messages (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id         BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id      BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role                 TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'human', 'tool')),
    content              TEXT NOT NULL DEFAULT '',
    content_type         TEXT NOT NULL DEFAULT 'text',
    created_at           TEXT NOT NULL,
    provider_message_id  TEXT,
    status               TEXT NOT NULL DEFAULT '',
    status_error         TEXT NOT NULL DEFAULT '',
    status_updated_at    TEXT,
    prompt_tokens        INTEGER NOT NULL DEFAULT 0,
    cached_tokens        INTEGER NOT NULL DEFAULT 0,
    completion_tokens    INTEGER NOT NULL DEFAULT 0,
    cost_nanos           BIGINT NOT NULL DEFAULT 0,
    error                TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE UNIQUE INDEX messages_provider_id_key ON messages (provider_message_id) WHERE provider_message_id IS NOT NULL;
--bun:split
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at DESC, id DESC);
--bun:split
--bun:split
CREATE TABLE conversation_variables (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    value            TEXT NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('prechat', 'extracted', 'api')),
    message_id       BIGINT REFERENCES messages(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (conversation_id, name)
);
--bun:split
CREATE INDEX conversation_variables_filter_idx ON conversation_variables (workspace_id, name, value);
--bun:split
CREATE TABLE usage_ledger (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id       BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id    BIGINT REFERENCES conversations(id) ON DELETE SET NULL,
    message_id         BIGINT REFERENCES messages(id) ON DELETE SET NULL,
    assistant_id       BIGINT,
    conversation_type  TEXT NOT NULL DEFAULT '',
    request_id         TEXT NOT NULL UNIQUE,
    purpose            TEXT NOT NULL CHECK (purpose IN ('reply', 'extraction')),
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
CREATE INDEX usage_ledger_untallied_idx ON usage_ledger (created_at) WHERE tallied_at IS NULL;
--bun:split
CREATE INDEX usage_ledger_conversation_idx ON usage_ledger (conversation_id);
--bun:split
CREATE TABLE usage_daily (
    workspace_id       BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day                TEXT NOT NULL,
    assistant_id       BIGINT NOT NULL DEFAULT 0,
    type               TEXT NOT NULL,
    conversations      BIGINT NOT NULL DEFAULT 0,
    messages           BIGINT NOT NULL DEFAULT 0,
    llm_calls          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens      BIGINT NOT NULL DEFAULT 0,
    cached_tokens      BIGINT NOT NULL DEFAULT 0,
    completion_tokens  BIGINT NOT NULL DEFAULT 0,
    cost_nanos         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, assistant_id, type)
);
--bun:split
CREATE TABLE inbound_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    provider      TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT '',
    workspace_id  BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    payload       TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',
    received_at   TEXT NOT NULL,
    processed_at  TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    UNIQUE (provider, provider_id)
);
--bun:split
CREATE INDEX inbound_events_unprocessed_idx ON inbound_events (received_at, id) WHERE processed_at IS NULL;
--bun:split
CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id', tokenize='unicode61');
--bun:split
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
--bun:split
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
--bun:split
CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
