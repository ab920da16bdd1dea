-- The whole data model of DESIGN.md. Later changes come as new numbered migrations; a
-- migration that has landed on main is never edited.

CREATE TABLE publishers (
    id          BIGINT PRIMARY KEY,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE offers (
    id            TEXT PRIMARY KEY,
    publisher_id  BIGINT NOT NULL REFERENCES publishers (id),
    created_at    TEXT NOT NULL
);
CREATE INDEX offers_publisher ON offers (publisher_id);

-- Append-only; the highest version per (owner, name) is current. Owner 0 is the platform.
CREATE TABLE consent_versions (
    owner               BIGINT NOT NULL,
    name                TEXT NOT NULL,
    version             INTEGER NOT NULL CHECK (version >= 1),
    label               TEXT NOT NULL,
    value               TEXT NOT NULL DEFAULT '',
    required            BOOLEAN NOT NULL DEFAULT FALSE,
    enabled_by_default  BOOLEAN NOT NULL DEFAULT FALSE,
    placeholder         TEXT NOT NULL DEFAULT '',
    archived            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (owner, name, version)
);
CREATE INDEX consent_versions_name ON consent_versions (name);

CREATE TABLE customers (
    id               BIGINT PRIMARY KEY,
    publisher_id     BIGINT NOT NULL REFERENCES publishers (id),
    email            TEXT,
    email_key        TEXT,
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash    TEXT,
    first_name       TEXT,
    last_name        TEXT,
    locale           TEXT,
    country          TEXT,
    currency         TEXT,
    external_id      TEXT,
    external_data    TEXT,
    registration_ip  TEXT,
    last_ip          TEXT,
    created_at       TEXT NOT NULL,
    last_login_at    TEXT,
    erased_at        TEXT
);
-- Uniqueness is decided here, never by a SELECT before INSERT; erased tombstones hold NULLs.
CREATE UNIQUE INDEX customers_email_key ON customers (publisher_id, email_key);
CREATE UNIQUE INDEX customers_external_id ON customers (publisher_id, external_id);
CREATE INDEX customers_registered ON customers (publisher_id, created_at, id);
CREATE INDEX customers_country ON customers (publisher_id, country, created_at, id);

-- Append-only history; the current answer is the newest row per (customer, owner, name).
CREATE TABLE customer_consents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    owner        BIGINT NOT NULL,
    name         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('accepted', 'declined')),
    ip           TEXT,
    user_agent   TEXT,
    at           TEXT NOT NULL
);
CREATE INDEX customer_consents_customer ON customer_consents (customer_id, owner, name, id);

CREATE TABLE refresh_tokens (
    hash               TEXT PRIMARY KEY,
    family             TEXT NOT NULL,
    customer_id        BIGINT NOT NULL REFERENCES customers (id),
    issued_at          TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    family_expires_at  TEXT NOT NULL,
    used_at            TEXT,
    revoked_at         TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_customer ON refresh_tokens (customer_id);

CREATE TABLE password_resets (
    hash         TEXT PRIMARY KEY,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX password_resets_customer ON password_resets (customer_id);

-- Never a token or a password-derived plain hash: the body is fingerprinted with an HMAC.
CREATE TABLE idempotency_keys (
    publisher_id  BIGINT NOT NULL,
    route         TEXT NOT NULL,
    key           TEXT NOT NULL,
    body_hmac     TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'done')),
    customer_id   BIGINT,
    status        INTEGER,
    response      TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (publisher_id, route, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE admin_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    hash          TEXT NOT NULL UNIQUE,
    publisher_id  BIGINT REFERENCES publishers (id),
    label         TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);

CREATE TABLE admin_sessions (
    hash        TEXT PRIMARY KEY,
    key_id      BIGINT NOT NULL REFERENCES admin_keys (id),
    csrf_hash   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE TABLE admin_audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    actor         TEXT NOT NULL,
    publisher_id  BIGINT,
    action        TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '{}',
    at            TEXT NOT NULL
);
CREATE INDEX admin_audit_publisher ON admin_audit (publisher_id, at);

-- Only for the generated development key; production configures PEM files.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    private_key  TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- Written in the transaction of the change that causes the email; payload purged once sent.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    customer_id      BIGINT,
    payload          TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE sent_at IS NULL;

-- What the config file last applied, one fingerprint per declared item, so a restart
-- with an unchanged declaration does nothing and never reverts a CLI or admin change.
CREATE TABLE config_state (
    item         TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    applied_at   TEXT NOT NULL
);
