-- An import whose server stopped midway is marked `interrupted` (at start-up, or when its
-- report is read) once its heartbeat is older than `admin.import_stale_after`. Additive:
-- old replicas never write the new state and ignore the new column.
-- SQLite cannot change a CHECK constraint: the import tables are rebuilt (children point at
-- the new parent before the old one is dropped; renaming carries their references along).
CREATE TABLE imports_next (
    id            TEXT PRIMARY KEY,
    publisher_id  BIGINT NOT NULL REFERENCES publishers (id),
    mode          TEXT NOT NULL CHECK (mode IN ('insert', 'upsert', 'skip')),
    state         TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'interrupted')),
    rows_read     BIGINT NOT NULL DEFAULT 0,
    inserted      BIGINT NOT NULL DEFAULT 0,
    updated       BIGINT NOT NULL DEFAULT 0,
    skipped       BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    message       TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    heartbeat_at  TEXT
);
INSERT INTO imports_next (id, publisher_id, mode, state, rows_read, inserted, updated, skipped,
                          failed, message, created_at, finished_at)
    SELECT id, publisher_id, mode, state, rows_read, inserted, updated, skipped, failed, message,
           created_at, finished_at FROM imports;

CREATE TABLE import_errors_next (
    import_id  TEXT NOT NULL REFERENCES imports_next (id),
    line       BIGINT NOT NULL,
    field      TEXT NOT NULL,
    message    TEXT NOT NULL
);
INSERT INTO import_errors_next (import_id, line, field, message)
    SELECT import_id, line, field, message FROM import_errors;

CREATE TABLE import_ids_next (
    import_id    TEXT NOT NULL REFERENCES imports_next (id),
    line         BIGINT NOT NULL,
    old_id       BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL
);
INSERT INTO import_ids_next (import_id, line, old_id, customer_id)
    SELECT import_id, line, old_id, customer_id FROM import_ids;

DROP TABLE import_errors;
DROP TABLE import_ids;
DROP TABLE imports;
ALTER TABLE imports_next RENAME TO imports;
ALTER TABLE import_errors_next RENAME TO import_errors;
ALTER TABLE import_ids_next RENAME TO import_ids;
CREATE INDEX imports_publisher ON imports (publisher_id, created_at);
CREATE INDEX import_errors_import ON import_errors (import_id, line);
CREATE INDEX import_ids_import ON import_ids (import_id, line);
