-- Macros: general ones (no owner, written by admins) and each agent's own.

-- +goose Up
CREATE TABLE macros (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  owner_id   bigint,
  title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
  body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 4096),
  set_status text CHECK (set_status IN ('open', 'pending', 'solved', 'closed')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, owner_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX macros_owner ON macros (tenant_id, owner_id, lower(title));
ALTER TABLE macros ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON macros
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
