ALTER TABLE assistants DROP COLUMN identity_required;
--bun:split
ALTER TABLE assistants DROP COLUMN identity_secret;
