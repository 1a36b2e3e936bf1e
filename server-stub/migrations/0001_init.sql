-- Keyway server schema, version 1. Portable SQL: it runs unchanged on SQLite and
-- PostgreSQL (TEXT ids made by the server, BIGINT numbers and flags, BLOB/BYTEA
-- differences avoided by keeping ciphertext as base64 TEXT).

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE properties (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    policy TEXT NOT NULL,
    -- The property's change counter: every write takes the next value, and
    -- sync cursors are positions in it. Updating it also serialises writes to
    -- one property (a row lock on PostgreSQL, the write lock on SQLite).
    change_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE units (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    UNIQUE (property_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    unit_id TEXT REFERENCES units(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE locks (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    access_point TEXT NOT NULL,
    unit_id TEXT REFERENCES units(id),
    capacity BIGINT NOT NULL,
    enter_key BIGINT NOT NULL,
    constraints TEXT NOT NULL,
    root_key TEXT NOT NULL,
    desired_version BIGINT NOT NULL DEFAULT 0,
    confirmed_version BIGINT NOT NULL DEFAULT 0,
    seen_version BIGINT NOT NULL DEFAULT 0,
    needs_recovery BIGINT NOT NULL DEFAULT 0,
    -- The desired table moved inside the current write; sealed before commit.
    dirty BIGINT NOT NULL DEFAULT 0,
    attention TEXT,
    audit_ack BIGINT NOT NULL DEFAULT 0,
    job_id TEXT,
    job_envelope TEXT,
    job_target BIGINT,
    job_expires_at BIGINT,
    change_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX locks_sync ON locks (property_id, change_seq);

-- Every job the server sealed, with what it does, so any receipt (even for a
-- job that was superseded) settles exactly what the lock did.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    lock_id TEXT NOT NULL REFERENCES locks(id),
    base BIGINT NOT NULL,
    target BIGINT NOT NULL,
    recovery BIGINT NOT NULL,
    digest TEXT NOT NULL,
    effects TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    outcome TEXT
);
CREATE INDEX jobs_lock_target ON jobs (lock_id, target);

CREATE TABLE codes (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    kind TEXT NOT NULL,
    origin TEXT NOT NULL,
    holder_type TEXT NOT NULL,
    holder_id TEXT,
    unit_id TEXT,
    name TEXT,
    guest_type TEXT,
    value TEXT NOT NULL,
    value_mac TEXT NOT NULL,
    schedule TEXT NOT NULL,
    one_time BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    status TEXT NOT NULL,
    -- When the schedule's window ends (expiry sweeps use it).
    ends_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX codes_sync ON codes (property_id, change_seq);
CREATE INDEX codes_unit_sync ON codes (unit_id, change_seq);
CREATE INDEX codes_holder ON codes (holder_type, holder_id);
CREATE INDEX codes_mac ON codes (property_id, value_mac);
CREATE INDEX codes_ends ON codes (status, ends_at);

-- A code on one lock. The entry (digits, schedule) never changes; a new value
-- is a new placement that replaces the old one in the same job.
CREATE TABLE placements (
    id TEXT PRIMARY KEY,
    code_id TEXT NOT NULL REFERENCES codes(id),
    lock_id TEXT NOT NULL REFERENCES locks(id),
    slot BIGINT NOT NULL,
    value TEXT NOT NULL,
    kind TEXT NOT NULL,
    schedule TEXT NOT NULL,
    one_time BIGINT NOT NULL,
    want_present BIGINT NOT NULL,
    want_enabled BIGINT NOT NULL,
    conf_present BIGINT NOT NULL,
    conf_enabled BIGINT NOT NULL,
    -- live = want_present OR conf_present: the placement occupies its slot.
    live BIGINT NOT NULL,
    ending TEXT,
    reason TEXT,
    state TEXT NOT NULL,
    replaces TEXT,
    -- Unix microseconds: orders a code's placements on one lock.
    created_at BIGINT NOT NULL
);
CREATE INDEX placements_lock ON placements (lock_id, live);
CREATE INDEX placements_code ON placements (code_id);

CREATE TABLE deleted_pins (
    property_id TEXT NOT NULL,
    value_mac TEXT NOT NULL,
    deleted_at BIGINT NOT NULL,
    PRIMARY KEY (property_id, value_mac)
);

CREATE TABLE carriers (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE couriers (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    key_card_id TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE recipients (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    email TEXT,
    email_mac TEXT,
    phone TEXT,
    phone_mac TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX recipients_email ON recipients (property_id, email_mac);
CREATE INDEX recipients_phone ON recipients (property_id, phone_mac);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL,
    lock_id TEXT NOT NULL,
    source TEXT NOT NULL,
    lock_seq BIGINT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    slot BIGINT,
    code_id TEXT,
    actor TEXT,
    detail TEXT,
    recorded_seq BIGINT NOT NULL,
    UNIQUE (lock_id, lock_seq)
);
CREATE INDEX audit_lock ON audit_log (lock_id, recorded_seq);

CREATE TABLE idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
