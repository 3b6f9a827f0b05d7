-- Widget visitor identity (issue 12 item 1): each assistant has a secret with which a site
-- signs its customers' ids (visitor_hash = hex HMAC-SHA256(secret, visitor_id)), and a switch
-- that refuses unverified visitor ids. Existing assistants get a random secret here (256 bits
-- hashed from two random UUIDs); new ones get one from the store.
ALTER TABLE assistants ADD COLUMN identity_secret TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE assistants ADD COLUMN identity_required BOOLEAN NOT NULL DEFAULT false;
--bun:split
UPDATE assistants SET identity_secret = encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')
WHERE identity_secret = '';
