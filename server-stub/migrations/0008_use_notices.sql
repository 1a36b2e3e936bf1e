-- Use notices (docs/server.md, "Code uses"): a user's contact details for
-- notifications (email and phone, each sealed for its cell like
-- recipients'), and per code the users who asked to be told by email or SMS
-- when it opens a door, and how.
CREATE TABLE user_contacts (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    email TEXT,
    phone TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE code_notices (
    code_id TEXT NOT NULL REFERENCES codes(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    -- `email`, `sms` or `both`.
    via TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (code_id, user_id)
);
