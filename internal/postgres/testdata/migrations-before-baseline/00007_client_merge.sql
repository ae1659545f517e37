-- Client profiles: the tenant's default country for numbers typed without
-- a country code, and merging two profiles into one, recorded so that the
-- merge can be undone.

-- +goose Up
ALTER TABLE tenants ADD COLUMN default_country text NOT NULL DEFAULT 'US' CHECK (default_country ~ '^[A-Z]{2}$');

-- A merged-away profile stays, empty, pointing at its survivor: its URL
-- redirects there, and an undo brings it back.
ALTER TABLE clients ADD COLUMN merged_into bigint,
  ADD CONSTRAINT clients_merged_into_fkey FOREIGN KEY (tenant_id, merged_into) REFERENCES clients (tenant_id, id),
  ADD CONSTRAINT clients_not_merged_into_itself CHECK (merged_into IS DISTINCT FROM id);
CREATE INDEX clients_merged_into ON clients (tenant_id, merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE client_merges (
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id              bigint GENERATED ALWAYS AS IDENTITY,
  survivor_id     bigint NOT NULL,
  merged_id       bigint NOT NULL,
  agent_id        bigint,
  survivor_before jsonb NOT NULL,  -- the survivor's fields before the merge
  survivor_after  jsonb NOT NULL,  -- and right after it
  merged_fields   jsonb NOT NULL,  -- the merged-away profile's fields
  moved_cases     bigint[] NOT NULL,
  created_at      timestamptz NOT NULL,
  undone_at       timestamptz,
  undone_by       bigint,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, survivor_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, merged_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE SET NULL (agent_id),
  FOREIGN KEY (tenant_id, undone_by) REFERENCES agents (tenant_id, id) ON DELETE SET NULL (undone_by)
);
CREATE INDEX client_merges_survivor ON client_merges (tenant_id, survivor_id, id DESC);
CREATE INDEX client_merges_merged ON client_merges (tenant_id, merged_id);
ALTER TABLE client_merges ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON client_merges
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- A chat opened for a client whom a merge is moving away (a WhatsApp
-- message that arrives during the merge) goes to the survivor: the lock
-- waits for the merge, and then reads where the client went.
-- +goose StatementBegin
CREATE FUNCTION cases_follow_merge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next bigint;
BEGIN
  FOR hop IN 1..100 LOOP
    SELECT merged_into INTO next FROM clients WHERE tenant_id = NEW.tenant_id AND id = NEW.client_id FOR KEY SHARE;
    EXIT WHEN next IS NULL;
    NEW.client_id := next;
  END LOOP;
  RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER cases_follow_merge BEFORE INSERT ON cases FOR EACH ROW EXECUTE FUNCTION cases_follow_merge();

-- +goose Down
DROP TRIGGER cases_follow_merge ON cases;
DROP FUNCTION cases_follow_merge();
DROP TABLE client_merges;
ALTER TABLE clients DROP COLUMN merged_into;
ALTER TABLE tenants DROP COLUMN default_country;
