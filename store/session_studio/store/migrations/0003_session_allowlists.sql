-- Per-session policy extensions (the full policy surface): recipient and contract allowlists,
-- a signing rate limit and a gas price cap.
ALTER TABLE sessions ADD COLUMN recipients TEXT;             -- JSON array of addresses; NULL = any
ALTER TABLE sessions ADD COLUMN contracts TEXT NOT NULL DEFAULT '{}';  -- {address: [selectors]|null}
ALTER TABLE sessions ADD COLUMN rate_limit_per_minute INTEGER;
ALTER TABLE sessions ADD COLUMN max_fee_per_gas TEXT;        -- wei; NULL = the chain's cap only
