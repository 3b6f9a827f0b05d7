DROP INDEX CONCURRENTLY IF EXISTS conversations_id_keys_idx;
