-- Secrets the replicas must share and nobody configures (e.g. the idempotency HMAC key).
CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
