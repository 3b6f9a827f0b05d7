DROP INDEX IF EXISTS saved_views_builtin_idx;
--bun:split
DROP INDEX IF EXISTS conversations_ws_csat_sort_idx;
