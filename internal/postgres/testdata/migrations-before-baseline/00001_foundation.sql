-- Tenants, agents, groups, invitations and sessions, and the role that
-- row-level security binds.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_app') THEN
    CREATE ROLE parley_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END
$$;
-- +goose StatementEnd
-- The migrating role connects for the app too and switches to parley_app.
GRANT parley_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO parley_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO parley_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO parley_app;

-- The tenant of the current transaction, set by postgres.DB.InTenant with
-- set_config('app.tenant_id', ..., true). Unset means no tenant: no rows.
CREATE FUNCTION current_tenant() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
  id         uuid PRIMARY KEY,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = current_tenant()) WITH CHECK (id = current_tenant());

CREATE TABLE agents (
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id            bigint GENERATED ALWAYS AS IDENTITY,
  email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role          text NOT NULL CHECK (role IN ('admin', 'agent')),
  password_hash text, -- null until an invited agent chooses a password
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
-- One person, one sign-in: the login form asks only for an email.
CREATE UNIQUE INDEX agents_email_key ON agents (lower(email));
ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agents
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

CREATE TABLE groups (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX groups_name_key ON groups (tenant_id, lower(name));
ALTER TABLE groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON groups
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

CREATE TABLE group_members (
  tenant_id uuid NOT NULL,
  group_id  bigint NOT NULL,
  agent_id  bigint NOT NULL,
  PRIMARY KEY (tenant_id, group_id, agent_id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_agent ON group_members (tenant_id, agent_id);
ALTER TABLE group_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON group_members
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

CREATE TABLE invitations (
  tenant_id  uuid NOT NULL,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  agent_id   bigint NOT NULL,
  token_hash bytea NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX invitations_expires ON invitations (expires_at);
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- Sessions (alexedwards/scs pgxstore). They belong to no tenant: the token is
-- the secret, and the session data names the agent and tenant.
CREATE TABLE sessions (
  token  text PRIMARY KEY,
  data   bytea NOT NULL,
  expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry);

-- Cross-tenant lookups, each for one purpose. SECURITY DEFINER runs them as
-- the owner of the tables, whom the policies do not bind.

-- Sign-in: the agent an email belongs to, in whichever tenant.
CREATE FUNCTION login_lookup(p_email text)
  RETURNS TABLE (tenant_id uuid, agent_id bigint, password_hash text, active boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, id, password_hash, active FROM agents WHERE lower(email) = lower(p_email) $$;

-- Accepting an invitation: the tenant and agent a token hash belongs to.
CREATE FUNCTION invitation_lookup(p_token_hash bytea)
  RETURNS TABLE (tenant_id uuid, agent_id bigint, expires_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, agent_id, expires_at FROM invitations WHERE token_hash = p_token_hash $$;

-- The periodic purge: invitations past their expiry in every tenant.
CREATE FUNCTION purge_expired_invitations(p_now timestamptz) RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public
  AS $$ WITH d AS (DELETE FROM invitations WHERE expires_at < p_now RETURNING 1) SELECT count(*) FROM d $$;

REVOKE EXECUTE ON FUNCTION login_lookup(text), invitation_lookup(bytea), purge_expired_invitations(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION login_lookup(text), invitation_lookup(bytea), purge_expired_invitations(timestamptz) TO parley_app;

-- +goose Down
DROP FUNCTION purge_expired_invitations(timestamptz);
DROP FUNCTION invitation_lookup(bytea);
DROP FUNCTION login_lookup(text);
DROP TABLE sessions, invitations, group_members, groups, agents, tenants;
DROP FUNCTION current_tenant();
