-- Issue 13 item 4 (accounts) and outgoing mail.
-- outgoing_mail: the mail outbox. Sending mail is a promise: the message is a row first, sent by
-- a worker task with retries; a sweep re-enqueues rows whose task was lost. Bodies are blanked
-- once the row is done (they may hold one-time links). workspace_id is the workspace the mail is
-- about, NULL for mail about an account (a password reset).
CREATE TABLE outgoing_mail (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    token         TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT '',
    from_addr     TEXT NOT NULL,
    to_addr       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    text_body     TEXT NOT NULL DEFAULT '',
    html_body     TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'pending',
    due_at        TIMESTAMPTZ NOT NULL,
    locked_until  TIMESTAMPTZ,
    attempts      INTEGER NOT NULL DEFAULT 0,
    sweeps        INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    sent_at       TIMESTAMPTZ,
    failed_at     TIMESTAMPTZ
);
--bun:split
CREATE INDEX outgoing_mail_due_idx ON outgoing_mail (due_at) WHERE state = 'pending';
--bun:split
-- password_resets: one-time links to set a password, stored as the SHA-256 of the token.
CREATE TABLE password_resets (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
--bun:split
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
