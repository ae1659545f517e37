-- Accounts by email (issue 22, item 5): password reset and email
-- verification links, and an optional second factor.
--
-- A link's token is never stored: only its SHA-256, like invitations'. A
-- token is used up by deleting its row, so a second use finds nothing.

-- +goose Up
-- The first admin of a company signed up by themselves proves their email
-- before they can sign in again; everyone else is vouched for by an admin or
-- came through a mailed invitation.
ALTER TABLE agents ADD COLUMN email_verified boolean NOT NULL DEFAULT true;
-- The agent's TOTP secret (RFC 6238), sealed with PARLEY_SECRET_KEY;
-- null when the agent has no second factor.
ALTER TABLE agents ADD COLUMN totp_secret bytea;
-- Every agent of the tenant must set up a second factor before working.
ALTER TABLE tenants ADD COLUMN require_totp boolean NOT NULL DEFAULT false;

CREATE TABLE account_tokens (
  tenant_id  uuid NOT NULL,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  agent_id   bigint NOT NULL,
  purpose    text NOT NULL CHECK (purpose IN ('reset', 'verify')),
  token_hash bytea NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX account_tokens_agent ON account_tokens (tenant_id, agent_id, purpose);
CREATE INDEX account_tokens_expires ON account_tokens (expires_at);
ALTER TABLE account_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON account_tokens
  USING (tenant_id = (SELECT current_tenant())) WITH CHECK (tenant_id = (SELECT current_tenant()));
CREATE POLICY owner_crosses_tenants ON account_tokens TO CURRENT_USER USING (true) WITH CHECK (true);

-- Following a link: the tenant and agent a token hash belongs to.
CREATE FUNCTION account_token_lookup(p_token_hash bytea, p_purpose text)
  RETURNS TABLE (tenant_id uuid, agent_id bigint, expires_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, agent_id, expires_at FROM account_tokens WHERE token_hash = p_token_hash AND purpose = p_purpose $$;

-- The periodic purge: links past their expiry in every tenant.
CREATE FUNCTION purge_expired_account_tokens(p_now timestamptz) RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public
  AS $$ WITH d AS (DELETE FROM account_tokens WHERE expires_at < p_now RETURNING 1) SELECT count(*) FROM d $$;

-- Sign-in also needs to know whether the email was confirmed.
DROP FUNCTION login_lookup(text);
CREATE FUNCTION login_lookup(p_email text)
  RETURNS TABLE (tenant_id uuid, agent_id bigint, password_hash text, active boolean, email_verified boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, id, password_hash, active, email_verified FROM agents WHERE lower(email) = lower(p_email) $$;

REVOKE EXECUTE ON FUNCTION account_token_lookup(bytea, text), purge_expired_account_tokens(timestamptz), login_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION account_token_lookup(bytea, text), purge_expired_account_tokens(timestamptz), login_lookup(text) TO parley_app;

-- +goose Down
DROP FUNCTION login_lookup(text);
CREATE FUNCTION login_lookup(p_email text)
  RETURNS TABLE (tenant_id uuid, agent_id bigint, password_hash text, active boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, id, password_hash, active FROM agents WHERE lower(email) = lower(p_email) $$;
REVOKE EXECUTE ON FUNCTION login_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION login_lookup(text) TO parley_app;
DROP FUNCTION purge_expired_account_tokens(timestamptz);
DROP FUNCTION account_token_lookup(bytea, text);
DROP TABLE account_tokens;
ALTER TABLE tenants DROP COLUMN require_totp;
ALTER TABLE agents DROP COLUMN totp_secret;
ALTER TABLE agents DROP COLUMN email_verified;
