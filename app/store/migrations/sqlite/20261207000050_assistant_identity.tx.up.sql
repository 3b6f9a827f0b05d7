-- Widget visitor identity (issue 12 item 1): each assistant has a secret with which a site
-- signs its customers' ids (visitor_hash = hex HMAC-SHA256(secret, visitor_id)), and a switch
-- that refuses unverified visitor ids. Existing assistants get a random secret here; new ones
-- get one from the store.
ALTER TABLE assistants ADD COLUMN identity_secret TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE assistants ADD COLUMN identity_required INTEGER NOT NULL DEFAULT 0;
--bun:split
UPDATE assistants SET identity_secret = lower(hex(randomblob(32))) WHERE identity_secret = '';
