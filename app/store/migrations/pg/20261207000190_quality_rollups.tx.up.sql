-- Quality rollups (issue 14, Analytics): per workspace, UTC day, assistant (0 for none),
-- metric and item, a count (n) and a sum (total). The (workspace, day) pairs whose sources
-- changed since a watermark (evaluation runs finished, CSAT answered, feedback given) are
-- recomputed whole, and the recent days by a reconciliation. Metrics: evaluated; outcome
-- (item: the outcome); sentiment (item: the sentiment); csat_estimate (total: the sum of the
-- estimates); csat (total: the sum of the customers' scores); feedback (item: up or down);
-- rating (item: a custom rating evaluator's name, total: the sum of its values).
CREATE TABLE quality_daily (
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day           DATE NOT NULL,
    assistant_id  BIGINT NOT NULL DEFAULT 0,
    metric        TEXT NOT NULL,
    item          TEXT NOT NULL DEFAULT '',
    n             BIGINT NOT NULL DEFAULT 0,
    total         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, assistant_id, metric, item)
);
--bun:split
-- The watermarks of the rollups that are recomputed from changed sources (one row each).
CREATE TABLE rollup_watermarks (
    name  TEXT PRIMARY KEY,
    at    TIMESTAMPTZ NOT NULL
);
--bun:split
-- What changed since the watermark, and each day's sources per workspace.
CREATE INDEX evaluation_runs_finished_idx ON evaluation_runs (finished_at) WHERE finished_at IS NOT NULL;
--bun:split
CREATE INDEX conversation_ends_ws_ended_idx ON conversation_ends (workspace_id, ended_at);
--bun:split
CREATE INDEX conversations_csat_at_idx ON conversations (csat_at) WHERE csat_at IS NOT NULL;
--bun:split
CREATE INDEX message_feedback_updated_idx ON message_feedback (updated_at);
--bun:split
CREATE INDEX message_feedback_ws_created_idx ON message_feedback (workspace_id, created_at);
