-- Offline guest codes (docs/lock-protocol.md, "Offline codes"): one row per
-- code and door, naming the id the lock knows it by (kind, class, start hour,
-- index), its 8 digits sealed for their cell, when its window ends, its first
-- use the lock reported, and whether the server wants it revoked and the lock
-- confirmed the revocation. An id is never given to a second code on one
-- lock, deleted or not: a revocation names the id. (Numbered 8: 7 is taken
-- on another branch.)
CREATE TABLE offline_codes (
    id TEXT PRIMARY KEY,
    code_id TEXT NOT NULL REFERENCES codes(id),
    lock_id TEXT NOT NULL REFERENCES locks(id),
    kind TEXT NOT NULL,
    class TEXT NOT NULL,
    start_hour BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    value TEXT NOT NULL,
    first_used_at BIGINT,
    want_revoked BIGINT NOT NULL DEFAULT 0,
    conf_revoked BIGINT NOT NULL DEFAULT 0,
    ending TEXT,
    UNIQUE (lock_id, kind, class, start_hour, idx)
);
CREATE INDEX offline_codes_code ON offline_codes (code_id);
CREATE INDEX offline_codes_lock ON offline_codes (lock_id, ends_at);

-- The offline codes a job revokes (offline_codes ids, JSON), settled with it.
ALTER TABLE jobs ADD COLUMN revokes TEXT NOT NULL DEFAULT '[]';
