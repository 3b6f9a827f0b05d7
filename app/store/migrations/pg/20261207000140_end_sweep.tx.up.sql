-- The end sweep (issue 14): open conversations of one type, oldest last message first.
CREATE INDEX conversations_open_idle_idx ON conversations (type, last_message_at) WHERE ended_at IS NULL;
