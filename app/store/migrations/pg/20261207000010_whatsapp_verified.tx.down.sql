ALTER TABLE assistants DROP COLUMN IF EXISTS whatsapp_verified_at;
--bun:split
ALTER TABLE assistants DROP COLUMN IF EXISTS whatsapp_verified_name;
--bun:split
ALTER TABLE assistants DROP COLUMN IF EXISTS whatsapp_display_phone_number;
