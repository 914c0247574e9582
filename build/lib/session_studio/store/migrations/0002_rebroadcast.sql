-- Keep the signed raw transaction of every reservation, so sends that were signed but never
-- (provably) broadcast can be broadcast after a crash instead of leaving a nonce gap.
ALTER TABLE reservations ADD COLUMN raw_tx BLOB;
CREATE INDEX reservations_to_broadcast ON reservations (chain_id, nonce)
    WHERE status IN ('signed', 'unknown') AND method = 'eth_sendTransaction';
