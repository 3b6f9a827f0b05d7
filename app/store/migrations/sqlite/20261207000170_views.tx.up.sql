-- Saved views and the list's judgement filters (issue 14). The list sorted by the CSAT
-- estimate, least satisfied first and unevaluated last (store.csatKeySQL), is read from this
-- index like the other sorts. Each out-of-the-box view exists once per workspace (created
-- lazily with ON CONFLICT DO NOTHING).
CREATE INDEX conversations_ws_csat_sort_idx ON conversations (workspace_id, (6 - COALESCE(csat_estimate, 6)) DESC, last_message_at DESC, id DESC);
--bun:split
CREATE UNIQUE INDEX saved_views_builtin_idx ON saved_views (workspace_id, builtin) WHERE builtin <> '';
