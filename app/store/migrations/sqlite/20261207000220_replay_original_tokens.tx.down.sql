ALTER TABLE replay_turns DROP COLUMN original_completion_tokens;
--bun:split
ALTER TABLE replay_turns DROP COLUMN original_cached_tokens;
--bun:split
ALTER TABLE replay_turns DROP COLUMN original_prompt_tokens;
