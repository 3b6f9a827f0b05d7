-- Issue 12 items 7 and 8. installation: one row, the random id that prefixes this
-- installation's task ids in Redis (created once, on first use, and kept with the data).
-- pending_replies: the durable intent to answer a customer message (the outbox of AI
-- replies), written in the same transaction as the message; a sweep re-enqueues the ones
-- that are due and not done.
CREATE TABLE installation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    prefix      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE pending_replies (
    id               BIGSERIAL PRIMARY KEY,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id       BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    token            TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending',
    due_at           TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    sweeps           INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    done_at          TIMESTAMPTZ
);
--bun:split
CREATE UNIQUE INDEX pending_replies_message_key ON pending_replies (message_id);
--bun:split
CREATE INDEX pending_replies_due_idx ON pending_replies (due_at) WHERE done_at IS NULL;
--bun:split
CREATE INDEX pending_replies_conversation_idx ON pending_replies (conversation_id) WHERE done_at IS NULL;
--bun:split
-- The extraction sweep finds conversations whose debounced extraction was lost (Redis) from
-- their last customer message time.
CREATE INDEX conversations_last_inbound_idx ON conversations (last_inbound_at) WHERE last_inbound_at IS NOT NULL AND ended_at IS NULL;
