DELETE FROM usage_ledger WHERE purpose = 'replay';
--bun:split
ALTER TABLE usage_ledger DROP CONSTRAINT IF EXISTS usage_ledger_purpose_check;
--bun:split
ALTER TABLE usage_ledger ADD CONSTRAINT usage_ledger_purpose_check CHECK (purpose IN ('reply', 'extraction', 'evaluation'));
--bun:split
ALTER TABLE usage_ledger DROP COLUMN replay_id;
--bun:split
DROP TABLE test_run_cases;
--bun:split
DROP TABLE replay_turns;
--bun:split
DROP TABLE replays;
--bun:split
DROP TABLE test_set_runs;
--bun:split
DROP TABLE test_cases;
--bun:split
DROP TABLE test_sets;
--bun:split
ALTER TABLE messages DROP COLUMN assistant_version;
--bun:split
ALTER TABLE conversations DROP COLUMN assistant_version;
--bun:split
ALTER TABLE assistants DROP COLUMN publish_gate;
--bun:split
ALTER TABLE assistants DROP COLUMN draft_version;
--bun:split
ALTER TABLE assistants DROP COLUMN published_version;
--bun:split
DROP TABLE assistant_publications;
--bun:split
DROP TABLE assistant_versions;
