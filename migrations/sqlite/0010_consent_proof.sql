-- Proof of consent (issue 17): each consent version's text hash (and its document's SHA-256
-- when the operator gave or let Enroll fetch it); each history entry's text hash, collection
-- point, route, request id and its link in the customer's hash chain; signed receipts.
-- Additive only: old replicas ignore the new columns and table. Rows written before this
-- migration get their hashes from `migrate` (Rust, at start-up), which chains them in id order.
ALTER TABLE consent_versions ADD COLUMN text_hash TEXT;
ALTER TABLE consent_versions ADD COLUMN document_sha256 TEXT;

ALTER TABLE customer_consents ADD COLUMN text_hash TEXT;
ALTER TABLE customer_consents ADD COLUMN collection_point TEXT;
ALTER TABLE customer_consents ADD COLUMN route TEXT;
ALTER TABLE customer_consents ADD COLUMN request_id TEXT;
ALTER TABLE customer_consents ADD COLUMN prev_hash TEXT;
ALTER TABLE customer_consents ADD COLUMN entry_hash TEXT;
ALTER TABLE customer_consents ADD COLUMN receipt_id TEXT;

-- One signed receipt (a compact JWS) per consent change; newest first by seq.
CREATE TABLE consent_receipts (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    publisher_id      BIGINT NOT NULL REFERENCES publishers (id),
    customer_id       BIGINT NOT NULL REFERENCES customers (id),
    collection_point  TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    jws               TEXT NOT NULL
);
CREATE INDEX consent_receipts_customer ON consent_receipts (customer_id, seq);
