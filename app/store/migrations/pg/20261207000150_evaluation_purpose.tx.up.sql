-- Evaluations (issue 14 item 2) are LLM calls of their own: the usage ledger accepts the
-- purpose 'evaluation' beside 'reply' and 'extraction'.
ALTER TABLE usage_ledger DROP CONSTRAINT IF EXISTS usage_ledger_purpose_check;
--bun:split
ALTER TABLE usage_ledger ADD CONSTRAINT usage_ledger_purpose_check CHECK (purpose IN ('reply', 'extraction', 'evaluation'));
