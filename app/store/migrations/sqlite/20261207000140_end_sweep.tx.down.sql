DROP INDEX IF EXISTS conversations_open_idle_idx;
