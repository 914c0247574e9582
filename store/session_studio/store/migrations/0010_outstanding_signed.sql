-- Signed is not spent: eth_signTransaction results stay `signed` until settlement sees them
-- mined (settled) or their nonce taken by another transaction (released).
-- The reserving transaction counts a lineage's outstanding ones on every request: one short
-- range of this index.
CREATE INDEX reservations_signed_outstanding ON reservations (lineage_id)
    WHERE method = 'eth_signTransaction' AND status = 'signed' AND settled_at IS NULL;
-- Settlement now follows them too: the page of unsettled transactions is one range of this
-- index (the query repeats its WHERE terms), which supersedes reservations_to_settle.
CREATE INDEX reservations_to_settle_any ON reservations (created_at, id)
    WHERE settled_at IS NULL AND (
        (method = 'eth_sendTransaction' AND status IN ('broadcast', 'unknown'))
        OR (method = 'eth_signTransaction' AND status = 'signed'));
DROP INDEX reservations_to_settle;
