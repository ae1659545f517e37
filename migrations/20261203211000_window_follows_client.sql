-- The 24-hour window belongs to the client and the business number, not to
-- a chat: it runs 24 hours from the client's last message to that
-- integration, whichever chat or case the message landed in (a template
-- that opens a new chat two minutes after the client wrote may be
-- followed by free text at once). client_window is the one definition the
-- application (every case it loads) and the window sweep read.
--
-- It is a set-returning SQL function used in LATERAL so that Postgres
-- inlines it into the calling query: one index scan of the client's cases
-- (cases_client), no function call per row.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION client_window(p_tenant uuid, p_client bigint, p_integration bigint)
  RETURNS TABLE (last_client_message_at timestamptz)
  LANGUAGE sql STABLE
  AS $$
    SELECT max(x.last_client_message_at) FROM cases x
    WHERE x.tenant_id = p_tenant AND x.client_id = p_client AND x.integration_id = p_integration
  $$;
-- +goose StatementEnd

-- Live chats whose window has closed and not yet been marked, in every
-- tenant: chats the client wrote in (found by the bin of their own last
-- client message, never later than the window's), and chats the business
-- opened inside a window the client had opened in an earlier case. A chat
-- opened outside any window never had one to close.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION closed_windows(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    (SELECT c.tenant_id, c.id FROM cases c, client_window(c.tenant_id, c.client_id, c.integration_id) w
    WHERE c.state = 'live' AND c.client_message_bin <= p_now - interval '24 hours'
      AND c.last_client_message_at <= p_now - interval '24 hours'
      AND w.last_client_message_at <= p_now - interval '24 hours'
      AND (c.window_closed_at IS NULL OR c.window_closed_at < w.last_client_message_at + interval '24 hours')
    ORDER BY c.client_message_bin LIMIT p_limit)
    UNION ALL
    (SELECT c.tenant_id, c.id FROM cases c, client_window(c.tenant_id, c.client_id, c.integration_id) w
    WHERE c.state = 'live' AND c.last_client_message_at IS NULL AND c.window_closed_at IS NULL
      AND w.last_client_message_at <= p_now - interval '24 hours'
      AND w.last_client_message_at > c.created_at - interval '24 hours'
    LIMIT p_limit)
  $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION closed_windows(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT c.tenant_id, c.id FROM cases c
    WHERE c.state = 'live' AND c.client_message_bin <= p_now - interval '24 hours'
      AND c.last_client_message_at <= p_now - interval '24 hours'
      AND (c.window_closed_at IS NULL OR c.window_closed_at < c.last_client_message_at + interval '24 hours')
    ORDER BY c.client_message_bin LIMIT p_limit
  $$;
-- +goose StatementEnd
DROP FUNCTION client_window(uuid, bigint, bigint);
