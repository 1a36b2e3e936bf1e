-- Backup pools (docs/backup-codes.md): how many backup codes each lock keeps
-- (0, the default: none). A backup code is a codes row of kind `backup`
-- held by its lock (holder_type `lock`), placed on that lock alone.
ALTER TABLE locks ADD COLUMN backup_pool BIGINT NOT NULL DEFAULT 0;

-- A backup code handed out: which backup code stands in for which code on
-- which lock, for which unit, and how the hand-out ended (`delivered`: the
-- code reached the lock; `used`: the backup opened the door; `code_ended`:
-- the code was deleted, expired or used; `failed`: the lock refused the
-- code; `lost`: the lock lost its storage, and the backup with it). A backup
-- code is handed out at most once.
CREATE TABLE backup_handouts (
    id TEXT PRIMARY KEY,
    backup_code_id TEXT NOT NULL UNIQUE REFERENCES codes(id),
    code_id TEXT NOT NULL REFERENCES codes(id),
    lock_id TEXT NOT NULL REFERENCES locks(id),
    unit_id TEXT,
    handed_at BIGINT NOT NULL,
    ended_at BIGINT,
    ending TEXT
);
CREATE INDEX backup_handouts_code ON backup_handouts (code_id);
CREATE INDEX backup_handouts_lock ON backup_handouts (lock_id, ended_at);
