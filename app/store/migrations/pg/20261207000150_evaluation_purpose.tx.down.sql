DELETE FROM usage_ledger WHERE purpose = 'evaluation';
--bun:split
ALTER TABLE usage_ledger DROP CONSTRAINT IF EXISTS usage_ledger_purpose_check;
--bun:split
ALTER TABLE usage_ledger ADD CONSTRAINT usage_ledger_purpose_check CHECK (purpose IN ('reply', 'extraction'));
