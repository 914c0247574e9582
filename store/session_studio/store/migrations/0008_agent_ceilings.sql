-- Agent self-service: the most an agent may give itself (NULL = it may not create sessions),
-- and how often the server rotates its sessions by itself (NULL = never).
ALTER TABLE agents ADD COLUMN ceiling TEXT;          -- JSON, see store/_records.py AgentCeiling
ALTER TABLE agents ADD COLUMN rotate_every_s INTEGER;
