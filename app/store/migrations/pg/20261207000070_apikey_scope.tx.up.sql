-- API key scopes (issue 13 item 5): a key is 'read' (safe methods only) or 'write'
-- (everything). Every key made before scopes could write: existing keys become 'write'.
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'write' CHECK (scope IN ('read', 'write'));
