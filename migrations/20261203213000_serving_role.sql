-- A serving role that cannot escalate (issue 22, item 4).
--
-- The server now logs in as its own role (DATABASE_URL: parley_app, or a
-- login role that is a member of it), which owns nothing and cannot become
-- the owner; the owner (PARLEY_OWNER_DATABASE_URL) only migrates. Two holes
-- remained for a serving role that runs arbitrary SQL (an injection):
--
-- 1. The tenant of a transaction was a setting anyone may set: set_config
--    ('app.tenant_id', <another tenant>) read that tenant's rows. Now
--    current_tenant() is the setting only when app.tenant_mac carries its
--    MAC under a key that lives in a table only the owner reads; the server
--    derives the same key from PARLEY_SECRET_KEY, which no SQL can reach.
--    The MAC is SHA-256(key || the tenant's 16 bytes): the message has one
--    fixed length, so SHA-256's length extension cannot forge another.
-- 2. The policies did not bind the owner, so FORCE ROW LEVEL SECURITY now
--    binds it too. The owner keeps a policy of its own that lets it through,
--    because the few SECURITY DEFINER functions that cross tenants on
--    purpose (sign-in, webhooks, sweeps) run as the owner; the serving role
--    is not the owner and has no way to become it, so that policy never
--    applies to it.
--
-- Each policy reads the tenant once per statement ((SELECT current_tenant())
-- is an init plan), not once per row: checking the MAC calls a function.

-- +goose Up
CREATE TABLE tenant_scope_key (
  one bool PRIMARY KEY DEFAULT true CHECK (one),
  key bytea NOT NULL CHECK (length(key) = 32)
);
-- The default privileges of the first migration would let parley_app read it.
REVOKE ALL ON tenant_scope_key FROM PUBLIC, parley_app;

CREATE FUNCTION tenant_scope_ok(p_tenant uuid, p_mac text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT coalesce((SELECT encode(sha256(key || uuid_send(p_tenant)), 'hex') = p_mac FROM tenant_scope_key), false) $$;
REVOKE EXECUTE ON FUNCTION tenant_scope_ok(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_scope_ok(uuid, text) TO parley_app;

-- set by postgres.DB.InTenant: app.tenant_id and app.tenant_mac, both local
-- to the transaction. Either missing or wrong means no tenant: no rows.
CREATE OR REPLACE FUNCTION current_tenant() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT CASE WHEN tenant_scope_ok(nullif(current_setting('app.tenant_id', true), '')::uuid,
                                         current_setting('app.tenant_mac', true))
               THEN nullif(current_setting('app.tenant_id', true), '')::uuid END $$;

-- +goose StatementBegin
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT c.relname, p.polname IS NOT NULL AS isolated
           FROM pg_class c
           LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = 'tenant_isolation'
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relrowsecurity
  LOOP
    IF t.isolated THEN
      EXECUTE format('ALTER POLICY tenant_isolation ON %I USING (%2$I = (SELECT current_tenant())) WITH CHECK (%2$I = (SELECT current_tenant()))',
                     t.relname, CASE WHEN t.relname = 'tenants' THEN 'id' ELSE 'tenant_id' END);
    END IF;
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.relname);
    EXECUTE format('CREATE POLICY owner_crosses_tenants ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t.relname);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relrowsecurity
  LOOP
    EXECUTE format('DROP POLICY IF EXISTS owner_crosses_tenants ON %I', t.relname);
    EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t.relname);
    IF EXISTS (SELECT FROM pg_policy WHERE polrelid = t.relname::regclass AND polname = 'tenant_isolation') THEN
      EXECUTE format('ALTER POLICY tenant_isolation ON %I USING (%2$I = current_tenant()) WITH CHECK (%2$I = current_tenant())',
                     t.relname, CASE WHEN t.relname = 'tenants' THEN 'id' ELSE 'tenant_id' END);
    END IF;
  END LOOP;
END
$$;
-- +goose StatementEnd
CREATE OR REPLACE FUNCTION current_tenant() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
DROP FUNCTION tenant_scope_ok(uuid, text);
DROP TABLE tenant_scope_key;
