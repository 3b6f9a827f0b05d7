-- Invites (issue 13, item 2): a one-time link that makes its holder a member of one workspace
-- with one role. Only the SHA-256 (hex) of the link's token is kept; the token is shown once.
-- An invite is open until it is accepted, revoked or past expires_at (7 days). A workspace has
-- at most one open invite per email (case-insensitive): inviting again replaces it.
CREATE TABLE invites (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    invited_by    BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    accepted_at   TIMESTAMPTZ,
    accepted_by   BIGINT REFERENCES users(id) ON DELETE SET NULL,
    revoked_at    TIMESTAMPTZ
);
--bun:split
CREATE UNIQUE INDEX invites_open_email_idx ON invites (workspace_id, lower(email)) WHERE accepted_at IS NULL AND revoked_at IS NULL;
--bun:split
CREATE INDEX invites_workspace_idx ON invites (workspace_id, created_at);
