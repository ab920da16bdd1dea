-- Postgres only (its email key indexes are merged into one); SQLite compares bytes
-- already and has one unique index on the email key.
SELECT 1;
