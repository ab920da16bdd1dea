-- Email verification codes (per publisher and address, before the customer exists), email
-- confirmation links (for customers registered while verification was off), and capture answers.

-- One live code per (publisher, address). Only an HMAC of the code is kept. `sends` counts the
-- codes sent since `window_start` (a cap per address and hour).
CREATE TABLE email_codes (
    publisher_id  BIGINT NOT NULL,
    email_key     TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    window_start  TEXT NOT NULL,
    sends         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (publisher_id, email_key)
);
CREATE INDEX email_codes_expires ON email_codes (expires_at);

-- A confirmation link is good for the address it was sent to only.
CREATE TABLE email_confirmations (
    hash         TEXT PRIMARY KEY,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    email_key    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX email_confirmations_customer ON email_confirmations (customer_id, created_at);

-- Capture answers other than the names (which live in first_name and last_name).
ALTER TABLE customers ADD COLUMN capture TEXT;
