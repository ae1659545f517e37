-- Attachments in an object store (PARLEY_MEDIA_URL): each stored file's
-- SHA-256 is recorded beside its size, and the orphan sweep finds whether
-- a row points to a key by an index rather than a scan.

-- +goose Up
ALTER TABLE attachments ADD COLUMN sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$');
CREATE INDEX attachments_storage_key ON attachments (tenant_id, storage_key) WHERE storage_key IS NOT NULL;

-- +goose Down
DROP INDEX attachments_storage_key;
ALTER TABLE attachments DROP COLUMN sha256;
