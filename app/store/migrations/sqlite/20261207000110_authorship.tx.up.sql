-- Authorship (issue 13 item 7): a message a person of the team sent carries who (their id,
-- and their name as it was, which stays when the account is gone); a conversation records who
-- last took it over from the AI or handed it back, and when.
ALTER TABLE messages ADD COLUMN author_id BIGINT;
--bun:split
ALTER TABLE messages ADD COLUMN author_name TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN ai_changed_by TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE conversations ADD COLUMN ai_changed_at TEXT;
