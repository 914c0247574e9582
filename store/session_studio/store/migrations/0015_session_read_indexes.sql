-- Session reads cost the rows they return, not the inventory (issue 13, "Scale"; checked by
-- tests/store/test_session_read_plans.py). An agent credential's sessions (read on every send)
-- were found through sessions_by_workspace, which the planner chose because it also yields
-- created_at order: a walk of the whole workspace. (agent_id, workspace_id, created_at) is the
-- better match for both the filter and the order.
DROP INDEX sessions_by_agent;
CREATE INDEX sessions_by_agent ON sessions (agent_id, workspace_id, created_at);
-- The admin listing pages by keyset on (sort value, id) for each of its three sorts: one index
-- per sort, ending in id, so a page is one range read in order (no sort of the workspace).
-- The last-used expression repeats SESSION_SORTS (store/_rows.py) term for term.
DROP INDEX sessions_by_workspace;
CREATE INDEX sessions_by_workspace ON sessions (workspace_id, created_at, id);
CREATE INDEX sessions_by_workspace_expiry ON sessions (workspace_id, expires_at, id);
CREATE INDEX sessions_by_workspace_last_used
    ON sessions (workspace_id, COALESCE(last_used_at, 0), id);
