-- Code uses (docs/server.md, "Code uses"): each time a lock's audit log says
-- a code opened its door (`code_used`, or a one-time PIN's
-- `one_time_consumed`), once a phone carried the event to the server. A
-- use is recorded in the write that stores the event (once per lock, life
-- and sequence number, like the event) and stamped with that write's change
-- counter, so sync carries it to whoever may see the code: the unit's
-- residents (by `unit_id`, kept even after the code is deleted), or the
-- property's staff and managers.
-- (Number 6 is left to the key-card migration of another branch.)
CREATE TABLE code_uses (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    code_id TEXT NOT NULL REFERENCES codes(id),
    unit_id TEXT,
    lock_id TEXT NOT NULL REFERENCES locks(id),
    epoch TEXT NOT NULL,
    lock_seq BIGINT NOT NULL,
    -- When, on the lock's clock (Unix seconds).
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    change_seq BIGINT NOT NULL,
    UNIQUE (lock_id, epoch, lock_seq)
);
CREATE INDEX code_uses_sync ON code_uses (property_id, change_seq);
CREATE INDEX code_uses_unit_sync ON code_uses (unit_id, change_seq);
CREATE INDEX code_uses_code ON code_uses (code_id, at);
