-- Judging conversations (issue 14): every end of a conversation is a row (the outbox of the
-- work an end promises: its evaluation, the WhatsApp CSAT question), evaluations are runs of
-- values, and the review workflow has its tags, notes, corrections, feedback and saved views.
-- The conversation keeps what the list shows and filters on (the latest evaluation's built-in
-- values, the customer's CSAT, the review state, the cost split), kept current in the
-- transactions that change them.
ALTER TABLE conversations ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN end_count INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE conversations ADD COLUMN summary TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN sentiment TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN csat_estimate SMALLINT;
--bun:split
ALTER TABLE conversations ADD COLUMN language TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN evaluation_status TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN csat_score SMALLINT;
--bun:split
ALTER TABLE conversations ADD COLUMN csat_comment TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN csat_at TIMESTAMPTZ;
--bun:split
ALTER TABLE conversations ADD COLUMN csat_end INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE conversations ADD COLUMN review_status TEXT NOT NULL DEFAULT 'unreviewed';
--bun:split
ALTER TABLE conversations ADD COLUMN reviewed_by_id BIGINT;
--bun:split
ALTER TABLE conversations ADD COLUMN reviewed_by TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN reviewed_at TIMESTAMPTZ;
--bun:split
ALTER TABLE conversations ADD COLUMN assignee_id BIGINT;
--bun:split
ALTER TABLE conversations ADD COLUMN cost_extraction_nanos BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE conversations ADD COLUMN cost_evaluation_nanos BIGINT NOT NULL DEFAULT 0;
--bun:split
UPDATE conversations c SET cost_extraction_nanos = x.total
FROM (SELECT conversation_id, sum(cost_nanos) AS total FROM usage_ledger WHERE purpose = 'extraction' AND conversation_id IS NOT NULL GROUP BY conversation_id) x
WHERE x.conversation_id = c.id;
--bun:split
CREATE INDEX conversations_ws_outcome_idx ON conversations (workspace_id, outcome, last_message_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_sentiment_idx ON conversations (workspace_id, sentiment, last_message_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_review_idx ON conversations (workspace_id, review_status, last_message_at DESC, id DESC);
--bun:split
CREATE INDEX conversations_ws_assignee_idx ON conversations (workspace_id, assignee_id, last_message_at DESC, id DESC) WHERE assignee_id IS NOT NULL;
--bun:split
CREATE INDEX conversations_ws_csat_estimate_idx ON conversations (workspace_id, csat_estimate, id) WHERE csat_estimate IS NOT NULL;
--bun:split
ALTER TABLE assistants ADD COLUMN evaluators TEXT NOT NULL DEFAULT '[]';
--bun:split
ALTER TABLE assistants ADD COLUMN csat_whatsapp BOOLEAN NOT NULL DEFAULT false;
--bun:split
CREATE TABLE conversation_ends (
    id               BIGSERIAL PRIMARY KEY,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    ended_at         TIMESTAMPTZ NOT NULL,
    evaluated_at     TIMESTAMPTZ,
    csat_sent_at     TIMESTAMPTZ,
    UNIQUE (conversation_id, seq)
);
--bun:split
CREATE INDEX conversation_ends_unevaluated_idx ON conversation_ends (ended_at, id) WHERE evaluated_at IS NULL;
--bun:split
CREATE TABLE evaluation_runs (
    id                  BIGSERIAL PRIMARY KEY,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id     BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    end_seq             INTEGER NOT NULL,
    run                 INTEGER NOT NULL DEFAULT 0,
    evaluators_version  INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL DEFAULT 'pending',
    provider            TEXT NOT NULL DEFAULT '',
    request_id          TEXT NOT NULL DEFAULT '',
    error               TEXT NOT NULL DEFAULT '',
    cost_nanos          BIGINT NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    UNIQUE (conversation_id, end_seq, evaluators_version, run)
);
--bun:split
CREATE INDEX evaluation_runs_pending_idx ON evaluation_runs (created_at, id) WHERE status = 'pending';
--bun:split
CREATE TABLE evaluation_values (
    id                 BIGSERIAL PRIMARY KEY,
    workspace_id       BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id    BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    run_id             BIGINT NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    builtin            BOOLEAN NOT NULL DEFAULT false,
    value              TEXT,
    reason             TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,
    error              TEXT NOT NULL DEFAULT '',
    evaluator_version  INTEGER NOT NULL DEFAULT 0,
    latest             BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (run_id, name)
);
--bun:split
CREATE INDEX evaluation_values_filter_idx ON evaluation_values (workspace_id, name, latest, value, conversation_id);
--bun:split
CREATE INDEX evaluation_values_conversation_idx ON evaluation_values (conversation_id, run_id);
--bun:split
CREATE TABLE tags (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    color         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, name_key)
);
--bun:split
CREATE TABLE conversation_tags (
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag_id           BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation_id, tag_id)
);
--bun:split
CREATE INDEX conversation_tags_tag_idx ON conversation_tags (workspace_id, tag_id, conversation_id);
--bun:split
CREATE TABLE notes (
    id               BIGSERIAL PRIMARY KEY,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id       BIGINT REFERENCES messages(id) ON DELETE CASCADE,
    author_id        BIGINT,
    author_name      TEXT NOT NULL DEFAULT '',
    text             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX notes_conversation_idx ON notes (conversation_id, created_at, id);
--bun:split
CREATE TABLE message_feedback (
    message_id       BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    rating           TEXT NOT NULL,
    comment          TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX message_feedback_conversation_idx ON message_feedback (conversation_id);
--bun:split
CREATE TABLE corrections (
    message_id       BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author_id        BIGINT,
    author_name      TEXT NOT NULL DEFAULT '',
    text             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX corrections_conversation_idx ON corrections (conversation_id);
--bun:split
CREATE TABLE saved_views (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       BIGINT REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    query         TEXT NOT NULL,
    builtin       TEXT NOT NULL DEFAULT '',
    position      INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX saved_views_ws_idx ON saved_views (workspace_id, user_id);
