-- An import whose server stopped midway is marked `interrupted` (at start-up, or when its
-- report is read) once its heartbeat is older than `admin.import_stale_after`. Additive:
-- old replicas never write the new state and ignore the new column.
ALTER TABLE imports DROP CONSTRAINT imports_state_check;
ALTER TABLE imports ADD CONSTRAINT imports_state_check
    CHECK (state IN ('running', 'done', 'failed', 'interrupted'));
ALTER TABLE imports ADD COLUMN heartbeat_at TIMESTAMPTZ;
