-- Lock protocol 2 (docs/lock-protocol.md): a job is sealed at the door, for
-- the lock session a fresh status opened, instead of being sealed ahead and
-- carried by whoever syncs. So locks no longer hold a current job, the
-- server issues single-use visit challenges, and lock events are numbered
-- within each life (epoch) of a lock.

-- A visit: the server's single-use challenge for one lock's status, issued to
-- one caller; once its status is presented, the answer (the jobs sealed for
-- the session) is kept so a retry gets the same one. `lock_state` is what the
-- server knew of the lock when it issued the challenge: a status presented
-- after the server learned more (from another phone) may be older than that,
-- and is refused.
CREATE TABLE visits (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    lock_id TEXT NOT NULL REFERENCES locks(id),
    principal TEXT NOT NULL,
    challenge TEXT NOT NULL,
    lock_state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    status_hash TEXT,
    answer TEXT
);
CREATE INDEX visits_expiry ON visits (expires_at);

DROP INDEX locks_dirty;
DROP INDEX locks_job_expiry;
ALTER TABLE locks DROP COLUMN dirty;
ALTER TABLE locks DROP COLUMN job_id;
ALTER TABLE locks DROP COLUMN job_envelope;
ALTER TABLE locks DROP COLUMN job_target;
ALTER TABLE locks DROP COLUMN job_expires_at;
-- The lock's current life (16 hex digits), from its last status.
ALTER TABLE locks ADD COLUMN epoch TEXT;

-- Version 1 jobs can no longer be delivered, and their digests were stored
-- in the clear (a digest of a table of one 4-digit code is undone by trying
-- all 10,000): jobs now keep a keyed MAC of the digest instead.
DELETE FROM jobs;
ALTER TABLE jobs RENAME COLUMN digest TO digest_mac;
CREATE INDEX jobs_lock_digest ON jobs (lock_id, target, digest_mac);
CREATE INDEX jobs_issued ON jobs (issued_at);

-- Lock events are unique by lock, life and number (a lock that lost its
-- storage numbers its events from 1 again).
CREATE TABLE audit_log_v2 (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL,
    lock_id TEXT NOT NULL,
    source TEXT NOT NULL,
    epoch TEXT,
    lock_seq BIGINT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    slot BIGINT,
    code_id TEXT,
    actor TEXT,
    detail TEXT,
    recorded_seq BIGINT NOT NULL,
    UNIQUE (lock_id, epoch, lock_seq)
);
INSERT INTO audit_log_v2 (id, property_id, lock_id, source, epoch, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq)
    SELECT id, property_id, lock_id, source, CASE WHEN lock_seq IS NULL THEN NULL ELSE '' END, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v2 RENAME TO audit_log;
CREATE INDEX audit_lock ON audit_log (lock_id, recorded_seq);
