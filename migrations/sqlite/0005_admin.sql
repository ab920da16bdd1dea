-- The admin API: customer search as index ranges, keyset pages of the audit trail, the key
-- behind each audit line, and session upkeep. Additive only (old replicas keep running).

-- SQLite compares text byte-wise, so the email prefix is a range of customers_email_key; the
-- names are searched lower-cased (SQLite's lower() folds ASCII letters only).
CREATE INDEX customers_first_name_prefix ON customers (publisher_id, lower(first_name));
CREATE INDEX customers_last_name_prefix ON customers (publisher_id, lower(last_name));

-- The consent filter: customers whose answers to one consent are in one state.
CREATE INDEX customer_consents_answers ON customer_consents (owner, name, state, customer_id);

-- Which key made a change (NULL: the config's operator key or the CLI); `actor` keeps its label.
ALTER TABLE admin_audit ADD COLUMN key_id INTEGER;
CREATE INDEX admin_audit_publisher_id ON admin_audit (publisher_id, id);

CREATE INDEX admin_keys_publisher ON admin_keys (publisher_id);
-- Dashboard sessions of the config's operator key (admin.operator_key) have no key row: they
-- hold a hash of that key instead and end when the configured key changes. SQLite cannot
-- drop NOT NULL, so the table is made again (no code wrote admin_sessions before this).
DROP TABLE admin_sessions;
CREATE TABLE admin_sessions (
    hash               TEXT PRIMARY KEY,
    key_id             BIGINT REFERENCES admin_keys (id),
    operator_key_hash  TEXT,
    csrf_hash          TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    CHECK ((key_id IS NULL) <> (operator_key_hash IS NULL))
);
CREATE INDEX admin_sessions_key ON admin_sessions (key_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
