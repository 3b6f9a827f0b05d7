UPDATE users SET role = 'admin';
--bun:split
DROP TABLE memberships;
