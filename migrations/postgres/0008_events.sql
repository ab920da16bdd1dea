-- Events (issue 15): written in the transaction of the change they describe; webhook
-- endpoints per publisher; one delivery row per (endpoint, event), claimed by the workers of
-- every replica (FOR UPDATE SKIP LOCKED). Additive: old replicas ignore these tables.
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    publisher_id BIGINT,
    customer_id  BIGINT,
    sequence     BIGINT,
    type         TEXT NOT NULL,
    body         TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_customer ON events (customer_id, sequence);

-- The last per-customer sequence number handed out (the upsert serializes a customer's events).
CREATE TABLE event_sequences (
    customer_id BIGINT PRIMARY KEY,
    last        BIGINT NOT NULL
);

CREATE TABLE webhook_endpoints (
    id              BIGSERIAL PRIMARY KEY,
    publisher_id    BIGINT NOT NULL REFERENCES publishers (id),
    url             TEXT NOT NULL,
    event_types     TEXT NOT NULL,
    description     TEXT,
    format          TEXT NOT NULL DEFAULT 'standard',
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  TIMESTAMPTZ,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_publisher ON webhook_endpoints (publisher_id);

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    endpoint_id     BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES events (id),
    customer_id     BIGINT,
    sequence        BIGINT,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, customer_id, sequence) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
