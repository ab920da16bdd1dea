-- Every session of a customer (refresh tokens, idempotent replays, JWTs) carries the epoch it
-- was issued in; a password reset, an email change, an erasure or "sign out everywhere" bumps
-- it, so what was issued before stops working. Additive: old replicas ignore the column.
ALTER TABLE customers ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
-- Ending sessions forgets the customer's idempotent registrations (replays mint sessions).
CREATE INDEX idempotency_keys_customer ON idempotency_keys (customer_id);
