-- Agent hardening (issue 10).
--
-- Self-service window (POLICY.md "Limits"): every lineage an agent created for itself
-- (`studio_createSession`; rotation keeps the lineage), and what all of them together spent per
-- minute. The reserving transaction bounds that sum by the ceiling's daily limit, so revoking,
-- recreating or letting a session expire never opens a fresh window. One bucket row per agent
-- per minute keeps the check at most 1441 rows however many sessions the agent churned through.
CREATE TABLE self_service_lineages (
    lineage_id  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents(id)
) WITHOUT ROWID;
CREATE TABLE agent_window_buckets (
    agent_id  TEXT NOT NULL,
    minute    INTEGER NOT NULL,          -- unix minute (ms // 60000)
    amount    TEXT NOT NULL,             -- atoms of the agent's ceiling unit
    PRIMARY KEY (agent_id, minute)
) WITHOUT ROWID;
-- Sessions created before this migration: the audit trail names who created each one. Their
-- minute buckets are summed in Python after this file (store/_sqlite.py, exact big integers).
INSERT OR IGNORE INTO self_service_lineages (lineage_id, agent_id)
    SELECT s.lineage_id, s.agent_id FROM sessions s
    JOIN audit_log l ON l.subject = s.key_hash AND l.action = 'session.create'
    WHERE s.agent_id IS NOT NULL AND l.actor = 'agent:' || (
        SELECT a.name FROM agents a WHERE a.id = s.agent_id);
-- `agents disable`: the agent's credential is dead, its sessions are revoked, and it gets no
-- new session (self-service or operator-made) and no reissued credential afterwards.
ALTER TABLE agents ADD COLUMN disabled_at INTEGER;
