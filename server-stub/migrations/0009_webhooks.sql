-- Signed webhooks for managers (docs/server.md, "Webhooks"): where a
-- property's events go, with a signing secret sealed for its cell; one
-- delivery per event and webhook, written in the write that makes the
-- event, claimed by the delivery worker with a lease; and every attempt
-- (status, error kind, duration, next attempt). Times of deliveries and
-- attempts are Unix milliseconds, so retries can be paced finely.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX webhooks_property ON webhooks (property_id, deleted_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id),
    property_id TEXT NOT NULL REFERENCES properties(id),
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    -- `pending`, `delivered` or `failed`.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    locked_until_ms BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at);

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    next_attempt_ms BIGINT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
