-- Indexes the load benchmark showed missing (docs/performance.md): each turns
-- a scan of every lock of a property into an index probe.
-- A unit's doors, for its residents' sync, code creation and door list.
CREATE INDEX locks_unit_sync ON locks (unit_id, change_seq);
-- Doors of one kind (shared doors for residents, package rooms for staff).
CREATE INDEX locks_access_sync ON locks (property_id, access_point, change_seq);
-- Locks whose job must be sealed before the write commits.
CREATE INDEX locks_dirty ON locks (property_id, dirty);
-- Jobs near expiry, for the sweep.
CREATE INDEX locks_job_expiry ON locks (job_expires_at);
