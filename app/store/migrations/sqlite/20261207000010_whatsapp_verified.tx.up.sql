-- Issue 12, item 2: a WhatsApp number belongs to whoever proves it. Before an assistant is
-- connected to a phone number id, Meta's Graph API confirms that the access token can see the
-- number; what Meta said (its display number and verified business name) and when are kept.
-- Inbound webhooks route only to a confirmed connection. Connections made before this
-- migration stay as they are, unconfirmed (whatsapp_verified_at NULL): saving the assistant
-- again, or the first inbound event of the number, confirms them with the stored token.
-- whatsapp_phone_number_id has been UNIQUE since the first schema, so no two rows can hold
-- one number and nothing here can fail on existing data.
ALTER TABLE assistants ADD COLUMN whatsapp_display_phone_number TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE assistants ADD COLUMN whatsapp_verified_name TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE assistants ADD COLUMN whatsapp_verified_at TEXT;
