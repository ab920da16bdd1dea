-- no-transaction
-- customers_email_key_bytes (0014) keeps emails unique per publisher.
DROP INDEX CONCURRENTLY IF EXISTS customers_email_key;
