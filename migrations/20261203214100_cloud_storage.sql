-- A tenant's cloud storage: its own S3-compatible bucket, where files over
-- WhatsApp's 16 MB go, sent to the client as a time-limited link.

-- +goose Up
CREATE TABLE cloud_storage (
  tenant_id    uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  endpoint     text NOT NULL,              -- https://…; empty is AWS S3
  region       text NOT NULL,
  bucket       text NOT NULL,
  access_key   text NOT NULL,
  secret       bytea NOT NULL,             -- AES-GCM sealed secret key
  secret_hint  text NOT NULL,              -- last characters, for the masked display
  max_bytes    bigint NOT NULL DEFAULT 2147483648 CHECK (max_bytes > 16777216),
  link_days    integer NOT NULL DEFAULT 7 CHECK (link_days BETWEEN 1 AND 7),
  connected_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE cloud_storage ENABLE ROW LEVEL SECURITY;
ALTER TABLE cloud_storage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cloud_storage
  USING (tenant_id = (SELECT current_tenant())) WITH CHECK (tenant_id = (SELECT current_tenant()));
CREATE POLICY owner_crosses_tenants ON cloud_storage TO CURRENT_USER USING (true) WITH CHECK (true);

-- +goose Down
DROP TABLE cloud_storage;
