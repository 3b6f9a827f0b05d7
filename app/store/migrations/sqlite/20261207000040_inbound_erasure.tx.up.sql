-- Erasure (issue 12 item 10): a raw inbound event names the conversation it was processed
-- into, so that deleting the conversation deletes the event and its payload (the customer's
-- text and phone number) with it; processed events are pruned after PARLEY_INBOUND_RETENTION.
ALTER TABLE inbound_events ADD COLUMN conversation_id BIGINT REFERENCES conversations(id) ON DELETE CASCADE;
--bun:split
-- Backfill what can be known: a message event carries the WhatsApp id of the message it
-- stored; a status event's provider id is "<message id>:<status>" (the status is letters).
UPDATE inbound_events SET
    conversation_id = (SELECT m.conversation_id FROM messages AS m WHERE m.provider_message_id = inbound_events.provider_id),
    workspace_id = COALESCE((SELECT m.workspace_id FROM messages AS m WHERE m.provider_message_id = inbound_events.provider_id), workspace_id)
WHERE provider = 'whatsapp' AND kind = 'message';
--bun:split
UPDATE inbound_events SET
    conversation_id = (SELECT m.conversation_id FROM messages AS m
        WHERE m.provider_message_id || ':' = rtrim(inbound_events.provider_id, 'abcdefghijklmnopqrstuvwxyz')),
    workspace_id = COALESCE((SELECT m.workspace_id FROM messages AS m
        WHERE m.provider_message_id || ':' = rtrim(inbound_events.provider_id, 'abcdefghijklmnopqrstuvwxyz')), workspace_id)
WHERE provider = 'whatsapp' AND kind = 'status' AND instr(provider_id, ':') > 0;
--bun:split
CREATE INDEX inbound_events_conversation_idx ON inbound_events (conversation_id) WHERE conversation_id IS NOT NULL;
--bun:split
CREATE INDEX inbound_events_processed_idx ON inbound_events (received_at, id) WHERE processed_at IS NOT NULL;
--bun:split
-- Deleting a message removes its terms from the full-text index for real (SQLite >= 3.44),
-- instead of leaving them in the index's old segments until a merge.
INSERT INTO messages_fts(messages_fts, rank) VALUES ('secure-delete', 1);
--bun:split
-- Terms deleted before now are still in old segments: one merge drops them.
INSERT INTO messages_fts(messages_fts) VALUES ('optimize');
