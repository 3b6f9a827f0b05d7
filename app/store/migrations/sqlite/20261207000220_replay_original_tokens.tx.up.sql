-- A replay's turn shows the tokens of both sides (issue 15): the original answers' tokens are
-- copied from their messages when the replay is created, like their cost.
ALTER TABLE replay_turns ADD COLUMN original_prompt_tokens INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE replay_turns ADD COLUMN original_cached_tokens INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE replay_turns ADD COLUMN original_completion_tokens INTEGER NOT NULL DEFAULT 0;
