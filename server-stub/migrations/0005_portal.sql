-- The Portal (docs/portal.md): managers and staff sign in in a browser with
-- an email address and a password.

-- A user's email address, sealed for its cell like recipients' addresses,
-- with a keyed MAC to find the user at sign-in (one account per address);
-- the password as an argon2id PHC string (docs/security.md has the
-- parameters).
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN email_mac TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;
CREATE UNIQUE INDEX users_email ON users (email_mac);

-- A signed-in browser: the SHA-256 of its cookie's token (256 random bits),
-- when it was last used (idle expiry) and when it ends at the latest.
CREATE TABLE portal_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX portal_sessions_user ON portal_sessions (user_id);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

-- A single-use, expiring set-password link (an invitation), its token
-- stored as SHA-256.
CREATE TABLE password_links (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_links_user ON password_links (user_id);

-- The dashboard's recent activity and the notifications page read a
-- property's newest audit entries and messages.
CREATE INDEX audit_property ON audit_log (property_id, recorded_seq);
CREATE INDEX outbox_property ON outbox (property_id, created_at);
