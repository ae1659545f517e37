-- One channel, one integration: a provider account and sender connected
-- twice (in one tenant or two) stored every client message twice, each in
-- its own chat. A 1msg channel is its API URL (its instance; the phone is
-- the channel's own), a Twilio channel its account and sender (one account
-- has several senders; Twilio's sandbox sender is shared by every
-- account). The key holds across tenants: row level security hides other
-- tenants' rows from a query, not from a unique index.
--
-- Only enabled integrations hold the key (a disabled one receives
-- nothing), so that a database that already has duplicates keeps them,
-- disabled but for the oldest, instead of failing to migrate.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION integration_channel_key(p_provider text, p_account text, p_sender text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT p_provider || ' ' || regexp_replace(lower(p_account), '^https?://', '') || ' ' || CASE WHEN p_provider = 'onemsg' THEN '' ELSE p_sender END $$;
-- +goose StatementEnd

UPDATE integrations i SET enabled = false
WHERE i.enabled AND EXISTS (SELECT FROM integrations o
  WHERE o.enabled AND integration_channel_key(o.provider, o.account, o.sender) = integration_channel_key(i.provider, i.account, i.sender)
    AND (o.created_at, o.id) < (i.created_at, i.id));

CREATE UNIQUE INDEX integrations_one_channel ON integrations (integration_channel_key(provider, account, sender)) WHERE enabled;

-- Where a channel is connected, in any tenant: the integration that holds
-- it, so that a second connect is refused in words saying where.
-- +goose StatementBegin
CREATE FUNCTION integration_holding_channel(p_provider text, p_account text, p_sender text)
  RETURNS TABLE (tenant_id uuid, id bigint, enabled boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT i.tenant_id, i.id, i.enabled FROM integrations i
    WHERE integration_channel_key(i.provider, i.account, i.sender) = integration_channel_key(p_provider, p_account, p_sender)
    ORDER BY i.enabled DESC, i.id LIMIT 1
  $$;
-- +goose StatementEnd
REVOKE EXECUTE ON FUNCTION integration_holding_channel(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION integration_holding_channel(text, text, text) TO parley_app;

-- +goose Down
DROP FUNCTION integration_holding_channel(text, text, text);
DROP INDEX integrations_one_channel;
DROP FUNCTION integration_channel_key(text, text, text);
