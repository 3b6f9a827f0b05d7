ALTER TABLE conversations DROP COLUMN ai_changed_at;
--bun:split
ALTER TABLE conversations DROP COLUMN ai_changed_by;
--bun:split
ALTER TABLE messages DROP COLUMN author_name;
--bun:split
ALTER TABLE messages DROP COLUMN author_id;
