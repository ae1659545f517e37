-- Ending idle chats, closing 24-hour windows, and listing cases.

-- +goose Up
ALTER TABLE cases ADD COLUMN window_closed_at timestamptz;

-- All cases: newest activity first, keyset pages.
CREATE INDEX cases_ended_activity ON cases (tenant_id, last_activity_at DESC, id DESC) WHERE state = 'ended';
-- The window sweep: live chats by their client's last message.
CREATE INDEX cases_live_client_message ON cases (last_client_message_at) WHERE state = 'live';

-- Live chats idle past their tenant's timeout, in every tenant, oldest
-- first. The index on last_activity_at bounds the scan by the shortest
-- possible timeout (1 minute); the join applies each tenant's own.
CREATE FUNCTION idle_chats(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT c.tenant_id, c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id
    WHERE c.state = 'live' AND c.last_activity_at <= p_now - interval '1 minute'
      AND c.last_activity_at <= p_now - make_interval(mins => t.chat_idle_minutes)
    ORDER BY c.last_activity_at LIMIT p_limit
  $$;

-- Live chats whose 24-hour window has closed and not yet been marked, in
-- every tenant.
CREATE FUNCTION closed_windows(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT c.tenant_id, c.id FROM cases c
    WHERE c.state = 'live' AND c.last_client_message_at <= p_now - interval '24 hours'
      AND (c.window_closed_at IS NULL OR c.window_closed_at < c.last_client_message_at + interval '24 hours')
    ORDER BY c.last_client_message_at LIMIT p_limit
  $$;

REVOKE EXECUTE ON FUNCTION idle_chats(timestamptz, int), closed_windows(timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION idle_chats(timestamptz, int), closed_windows(timestamptz, int) TO parley_app;

-- +goose Down
DROP FUNCTION closed_windows(timestamptz, int);
DROP FUNCTION idle_chats(timestamptz, int);
DROP INDEX cases_live_client_message;
DROP INDEX cases_ended_activity;
ALTER TABLE cases DROP COLUMN window_closed_at;
