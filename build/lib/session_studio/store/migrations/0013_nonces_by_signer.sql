-- The nonce picker steps over nonces that a client took explicitly ahead of the counter: it
-- looks up the signer's live reservations from the counter upwards, one range scan here.
CREATE INDEX reservations_by_signer_nonce ON reservations (session_id, chain_id, nonce)
    WHERE nonce IS NOT NULL;
