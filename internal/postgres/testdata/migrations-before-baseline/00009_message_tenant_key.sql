-- Every message row used to lock its tenant's row (the foreign key check
-- takes FOR KEY SHARE on tenants), so all the messages a tenant receives at
-- once queued on that one row. A message's tenant is already guaranteed by
-- its (tenant_id, case_id) key to cases, whose tenant_id references tenants
-- with ON DELETE CASCADE, which cascades on to the messages.

-- +goose Up
ALTER TABLE messages DROP CONSTRAINT messages_tenant_id_fkey;

-- +goose Down
ALTER TABLE messages ADD CONSTRAINT messages_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
