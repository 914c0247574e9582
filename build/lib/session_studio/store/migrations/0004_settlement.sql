-- Settlement: gas is reserved at its worst case (gas * maxFeePerGas) and corrected to the real
-- cost once the receipt is seen. Money columns are TEXT base-10 integers, as everywhere.
ALTER TABLE reservations ADD COLUMN gas_reserved TEXT;      -- limit-unit atoms of worst-case gas
ALTER TABLE reservations ADD COLUMN gas_wei_reserved TEXT;  -- worst-case gas in wei
ALTER TABLE reservations ADD COLUMN gas_wei_used TEXT;      -- gasUsed * effectiveGasPrice, wei
ALTER TABLE reservations ADD COLUMN receipt_status INTEGER; -- 1 success, 0 revert, NULL none
-- Set exactly once, by settlement, in the transaction that corrects the bucket: the guard that
-- makes settling idempotent whatever later rewrites `status`.
ALTER TABLE reservations ADD COLUMN settled_at INTEGER;
CREATE INDEX reservations_to_settle ON reservations (created_at, id)
    WHERE status IN ('broadcast', 'unknown') AND method = 'eth_sendTransaction'
    AND settled_at IS NULL;
