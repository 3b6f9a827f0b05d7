-- Teams (issue 13): a workspace has members, each with one role (owner, admin, agent,
-- viewer); a person may belong to several workspaces. users.workspace_id stays as the
-- workspace the person last worked in (where a new login starts), and users.role becomes the
-- installation role: 'admin' for the installation's admins (the Queues page, creating
-- workspaces), 'member' for everyone else. Every existing user created their workspace and
-- becomes its owner; the admins of the first workspace (the one /setup made) stay
-- installation admins, as they were the only ones to see the Queues page.
CREATE TABLE memberships (
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
--bun:split
CREATE INDEX memberships_user_idx ON memberships (user_id);
--bun:split
INSERT INTO memberships (workspace_id, user_id, role, created_at)
SELECT workspace_id, id, 'owner', created_at FROM users;
--bun:split
UPDATE users SET role = 'member' WHERE role <> 'admin' OR workspace_id <> (SELECT min(id) FROM workspaces);
