-- Erasure (issue 12 item 10): a raw inbound event names the conversation it was processed
-- into, so that deleting the conversation deletes the event and its payload (the customer's
-- text and phone number) with it; processed events are pruned after PARLEY_INBOUND_RETENTION.
ALTER TABLE inbound_events ADD COLUMN conversation_id BIGINT REFERENCES conversations(id) ON DELETE CASCADE;
--bun:split
-- Backfill what can be known: a message event carries the WhatsApp id of the message it
-- stored; a status event's provider id is "<message id>:<status>".
UPDATE inbound_events AS e SET conversation_id = m.conversation_id, workspace_id = m.workspace_id
FROM messages AS m
WHERE e.provider = 'whatsapp' AND e.kind = 'message' AND m.provider_message_id = e.provider_id;
--bun:split
UPDATE inbound_events AS e SET conversation_id = m.conversation_id, workspace_id = m.workspace_id
FROM messages AS m
WHERE e.provider = 'whatsapp' AND e.kind = 'status' AND position(':' in e.provider_id) > 0
  AND m.provider_message_id = regexp_replace(e.provider_id, ':[^:]*$', '');
--bun:split
CREATE INDEX inbound_events_conversation_idx ON inbound_events (conversation_id) WHERE conversation_id IS NOT NULL;
--bun:split
CREATE INDEX inbound_events_processed_idx ON inbound_events (received_at, id) WHERE processed_at IS NOT NULL;
