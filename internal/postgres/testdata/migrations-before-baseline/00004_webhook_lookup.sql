-- A webhook's integration, whole, in one round trip: the webhook path is
-- the hottest in Parley.

-- +goose Up
DROP FUNCTION integration_by_webhook_token(text);
CREATE FUNCTION integration_by_webhook_token(p_token text)
  RETURNS TABLE (tenant_id uuid, id bigint, provider text, webhook_token text, account text, credentials_hint text,
                 sender text, default_group_id bigint, default_group_name text, enabled boolean, created_at timestamptz,
                 credentials bytea)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT i.tenant_id, i.id, i.provider, i.webhook_token, i.account, i.credentials_hint, i.sender,
           i.default_group_id, g.name, i.enabled, i.created_at, i.credentials
    FROM integrations i JOIN groups g ON g.tenant_id = i.tenant_id AND g.id = i.default_group_id
    WHERE i.webhook_token = p_token
  $$;
REVOKE EXECUTE ON FUNCTION integration_by_webhook_token(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION integration_by_webhook_token(text) TO parley_app;

-- +goose Down
DROP FUNCTION integration_by_webhook_token(text);
CREATE FUNCTION integration_by_webhook_token(p_token text)
  RETURNS TABLE (tenant_id uuid, integration_id bigint, provider text, enabled boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, id, provider, enabled FROM integrations WHERE webhook_token = p_token $$;
REVOKE EXECUTE ON FUNCTION integration_by_webhook_token(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION integration_by_webhook_token(text) TO parley_app;
