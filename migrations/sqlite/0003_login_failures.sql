-- Failed logins per (publisher, email key) and hour, whether or not the account exists, so the
-- throttle reveals nothing and every replica sees the same count. The key is a SHA-256 of the
-- email key, not the address.
CREATE TABLE login_failures (
    publisher_id  BIGINT NOT NULL,
    key_hash      TEXT NOT NULL,
    hour          BIGINT NOT NULL,
    failures      INTEGER NOT NULL,
    PRIMARY KEY (publisher_id, key_hash, hour)
);
CREATE INDEX login_failures_hour ON login_failures (hour);
CREATE INDEX password_resets_created ON password_resets (customer_id, created_at);
