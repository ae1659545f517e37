-- Statuses a provider gave up posting (issue 19): a reply the provider
-- accepted whose callbacks never came stayed "queued" for good. A sweep
-- asks the provider once about each reply still queued or sent some
-- minutes after it was created.
--
-- status_checked_at: when the sweep asked (once per message). The index is
-- on what never changes (created_at, direction), so the status updates of
-- every message stay HOT.

-- +goose Up
ALTER TABLE messages ADD COLUMN status_checked_at timestamptz;
CREATE INDEX messages_out_created ON messages (created_at) WHERE direction = 'out';

-- Replies in every tenant created between p_from and p_to that the
-- provider accepted and that no status has moved past sent, not yet asked
-- about.
CREATE FUNCTION stalled_sends(p_from timestamptz, p_to timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, message_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT m.tenant_id, m.id FROM messages m
    WHERE m.direction = 'out' AND m.created_at >= p_from AND m.created_at < p_to
      AND m.status IN ('queued', 'sent') AND m.provider_message_id IS NOT NULL AND m.status_checked_at IS NULL
    ORDER BY m.created_at LIMIT p_limit
  $$;
REVOKE EXECUTE ON FUNCTION stalled_sends(timestamptz, timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stalled_sends(timestamptz, timestamptz, int) TO parley_app;

-- +goose Down
DROP FUNCTION stalled_sends(timestamptz, timestamptz, int);
DROP INDEX messages_out_created;
ALTER TABLE messages DROP COLUMN status_checked_at;
