-- Bulk imports: one row per import (its counts as it goes), its row errors, and the ids it
-- gave to rows that carried an id of their own. Imported consent answers are marked as such.
-- Additive only (old replicas ignore the new tables and column).
CREATE TABLE imports (
    id            TEXT PRIMARY KEY,
    publisher_id  BIGINT NOT NULL REFERENCES publishers (id),
    mode          TEXT NOT NULL CHECK (mode IN ('insert', 'upsert', 'skip')),
    state         TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    rows_read     BIGINT NOT NULL DEFAULT 0,
    inserted      BIGINT NOT NULL DEFAULT 0,
    updated       BIGINT NOT NULL DEFAULT 0,
    skipped       BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    message       TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX imports_publisher ON imports (publisher_id, created_at);

CREATE TABLE import_errors (
    import_id  TEXT NOT NULL REFERENCES imports (id),
    line       BIGINT NOT NULL,
    field      TEXT NOT NULL,
    message    TEXT NOT NULL
);
CREATE INDEX import_errors_import ON import_errors (import_id, line);

CREATE TABLE import_ids (
    import_id    TEXT NOT NULL REFERENCES imports (id),
    line         BIGINT NOT NULL,
    old_id       BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL
);
CREATE INDEX import_ids_import ON import_ids (import_id, line);

ALTER TABLE customer_consents ADD COLUMN imported BOOLEAN NOT NULL DEFAULT FALSE;
