DROP TABLE IF EXISTS pending_replies;
--bun:split
DROP TABLE IF EXISTS installation;
