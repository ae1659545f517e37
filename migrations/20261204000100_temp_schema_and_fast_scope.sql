-- Two findings in the tenant scope of issue 22, item 4.
--
-- 1. A hole: Postgres searches a session's temporary schema before every
--    other one unless a search_path names pg_temp. The serving role could
--    create a temporary table tenant_scope_key holding a key of its own
--    choosing, and tenant_scope_ok (SET search_path = public) read it: a
--    MAC made with that key named any tenant. The same shadowing could
--    plant a temporary "messages" or "agents" in a pooled connection, read
--    by the next requests that borrow it. Now the serving role may create
--    no temporary tables at all (postgres.Provision revokes TEMPORARY from
--    PUBLIC: a database's privileges are no migration's, since a copy of a
--    template does not inherit them; postgres.CheckServingRole refuses a
--    role that still has it), and every SECURITY DEFINER function searches
--    pg_temp last.
-- 2. A cost: tenant_scope_ok was a SQL function, which Postgres cannot
--    inline (SECURITY DEFINER) and plans again at each place a statement
--    calls it: once per row-secured table of every statement, about
--    0.08 ms each, which made a five-table read cost 0.6 ms. In PL/pgSQL
--    its plan is kept for the session: 0.17 ms for the same read.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = public, pg_temp', f);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenant_scope_ok(p_tenant uuid, p_mac text) RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  RETURN coalesce((SELECT encode(sha256(k.key || uuid_send(p_tenant)), 'hex') = p_mac FROM public.tenant_scope_key k), false);
END
$$;
-- +goose StatementEnd

-- +goose Down
CREATE OR REPLACE FUNCTION tenant_scope_ok(p_tenant uuid, p_mac text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT coalesce((SELECT encode(sha256(key || uuid_send(p_tenant)), 'hex') = p_mac FROM tenant_scope_key), false) $$;
-- +goose StatementBegin
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = public', f);
  END LOOP;
END
$$;
-- +goose StatementEnd
