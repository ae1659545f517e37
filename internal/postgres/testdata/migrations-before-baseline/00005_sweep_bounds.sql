-- The idle sweep bounded its index scan by the shortest timeout a tenant
-- could choose (1 minute), so with the default 10 minutes a sweep that
-- finds nothing still read every chat idle between 1 and 10 minutes. It now
-- bounds the scan by the shortest timeout any tenant has chosen.
-- And cases.previous_case_id gets the index its foreign key needs.

-- +goose Up
CREATE OR REPLACE FUNCTION idle_chats(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT c.tenant_id, c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id
    WHERE c.state = 'live'
      AND c.last_activity_at <= p_now - make_interval(mins => (SELECT min(chat_idle_minutes) FROM tenants))
      AND c.last_activity_at <= p_now - make_interval(mins => t.chat_idle_minutes)
    ORDER BY c.last_activity_at LIMIT p_limit
  $$;
CREATE INDEX cases_previous ON cases (tenant_id, previous_case_id) WHERE previous_case_id IS NOT NULL;

-- +goose Down
DROP INDEX cases_previous;
CREATE OR REPLACE FUNCTION idle_chats(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT c.tenant_id, c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id
    WHERE c.state = 'live' AND c.last_activity_at <= p_now - interval '1 minute'
      AND c.last_activity_at <= p_now - make_interval(mins => t.chat_idle_minutes)
    ORDER BY c.last_activity_at LIMIT p_limit
  $$;
