-- The idempotency key of an outgoing WhatsApp message, kept for good (issue 13 follow-up: a
-- duplicate send under concurrent reply runs). The key is also the message's provider id
-- until Meta answers, and Meta's id then replaces it there: a twin run that stored its copy of
-- the message after that found no message under the key and sent a second one. Here the key
-- stays taken by its message; one key, one message, one send.
CREATE TABLE send_keys (
    send_key     TEXT PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    message_id   BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL
);
--bun:split
CREATE INDEX send_keys_message ON send_keys (message_id);
--bun:split
-- Messages still under their key (not yet sent, or sent with the answer lost) keep it.
INSERT INTO send_keys (send_key, workspace_id, message_id, created_at)
SELECT provider_message_id, workspace_id, id, created_at FROM messages
WHERE provider_message_id LIKE 'parley:%';
