-- no-transaction
-- One index for both jobs on customers' email keys: uniqueness, and the dashboard's prefix
-- search (which compares bytes, COLLATE "C"). Until now each had its own index
-- (customers_email_key, customers_email_prefix): one more index entry, and its WAL, for
-- every registration and every imported row. A deterministic collation is equal only on equal
-- bytes, so uniqueness is the same under "C"; ON CONFLICT (publisher_id, email_key) infers
-- this index, and violations name it customers_email_key_bytes (read as the email).
-- Built without blocking writes; 0015 and 0016 drop the two it replaces.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS customers_email_key_bytes ON customers (publisher_id, email_key COLLATE "C");
