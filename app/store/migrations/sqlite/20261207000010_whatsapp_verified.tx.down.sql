ALTER TABLE assistants DROP COLUMN whatsapp_verified_at;
--bun:split
ALTER TABLE assistants DROP COLUMN whatsapp_verified_name;
--bun:split
ALTER TABLE assistants DROP COLUMN whatsapp_display_phone_number;
