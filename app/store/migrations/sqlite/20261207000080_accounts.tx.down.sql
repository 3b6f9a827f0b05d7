DROP TABLE IF EXISTS password_resets;
--bun:split
DROP TABLE IF EXISTS outgoing_mail;
