-- Dashboard sessions live on the server (issue 12, item 3): the cookie carries a random token,
-- the row is keyed by its SHA-256 (a copy of the database holds no usable token). data is the
-- session manager's encoded values (the CSRF token); expiry is the absolute deadline. A row
-- without user_id is a visitor of the login page (its CSRF token only). user_id and
-- workspace_id are written at login and never by a later save, so that a save racing a
-- revocation can only bring back an anonymous row. last_seen_at is written at most once a
-- minute; a session idle longer than PARLEY_SESSION_IDLE (an hour without user_id) is refused
-- and pruned.
CREATE TABLE sessions (
    id            BIGSERIAL PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    data          BYTEA NOT NULL,
    expiry        TIMESTAMPTZ NOT NULL,
    user_id       BIGINT REFERENCES users(id) ON DELETE CASCADE,
    workspace_id  BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    user_agent    TEXT NOT NULL DEFAULT '',
    client_ip     TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX sessions_user_idx ON sessions (workspace_id, user_id, last_seen_at);
--bun:split
CREATE INDEX sessions_expiry_idx ON sessions (expiry);
--bun:split
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen_at);
