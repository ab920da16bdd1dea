-- The admin API: customer search as index ranges, keyset pages of the audit trail, the key
-- behind each audit line, and session upkeep. Additive only (old replicas keep running).

-- Prefix search compares bytes (COLLATE "C"), so `email_key >= q AND email_key < q || U+10FFFF`
-- is a range of these indexes whatever the database's collation.
CREATE INDEX customers_email_prefix ON customers (publisher_id, email_key COLLATE "C");
CREATE INDEX customers_first_name_prefix ON customers (publisher_id, lower(first_name) COLLATE "C");
CREATE INDEX customers_last_name_prefix ON customers (publisher_id, lower(last_name) COLLATE "C");

-- The consent filter: customers whose answers to one consent are in one state.
CREATE INDEX customer_consents_answers ON customer_consents (owner, name, state, customer_id);

-- Which key made a change (NULL: the config's operator key or the CLI); `actor` keeps its label.
ALTER TABLE admin_audit ADD COLUMN key_id BIGINT;
CREATE INDEX admin_audit_publisher_id ON admin_audit (publisher_id, id);

CREATE INDEX admin_keys_publisher ON admin_keys (publisher_id);
CREATE INDEX admin_sessions_key ON admin_sessions (key_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Dashboard sessions of the config's operator key (admin.operator_key) have no key row: they
-- hold a hash of that key instead and end when the configured key changes. No code wrote
-- admin_sessions before this migration.
ALTER TABLE admin_sessions ALTER COLUMN key_id DROP NOT NULL;
ALTER TABLE admin_sessions ADD COLUMN operator_key_hash TEXT;
ALTER TABLE admin_sessions ADD CONSTRAINT admin_sessions_holder
    CHECK ((key_id IS NULL) <> (operator_key_hash IS NULL));
