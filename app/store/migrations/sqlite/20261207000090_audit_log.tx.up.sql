-- Audit log (issue 13 item 6): who did what and when, per workspace. Each entry is written in
-- the same transaction as the change it records. Newest-first keyset pages go by id, filtered
-- by action or actor; the retention task deletes by time.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    at           TEXT NOT NULL,
    actor_type   TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id     TEXT NOT NULL DEFAULT '',
    actor_name   TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL DEFAULT '',
    target_id    TEXT NOT NULL DEFAULT '',
    details      TEXT NOT NULL DEFAULT '{}'
);
--bun:split
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id DESC);
--bun:split
CREATE INDEX audit_log_action_idx ON audit_log (workspace_id, action, id DESC);
--bun:split
CREATE INDEX audit_log_actor_idx ON audit_log (workspace_id, actor_type, actor_id, id DESC);
--bun:split
CREATE INDEX audit_log_at_idx ON audit_log (at);
