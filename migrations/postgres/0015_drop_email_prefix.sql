-- no-transaction
-- customers_email_key_bytes (0014) serves the dashboard's email prefix search.
DROP INDEX CONCURRENTLY IF EXISTS customers_email_prefix;
