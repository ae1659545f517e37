-- WhatsApp integrations, clients and their merges, chats and cases, and
-- their messages and files.

-- +goose Up
-- A connected provider account and WhatsApp number.
CREATE TABLE integrations (
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id               bigint GENERATED ALWAYS AS IDENTITY,
  provider         text NOT NULL CHECK (provider IN ('twilio', 'onemsg')),
  -- The secret part of the webhook URL: 32 random bytes, base64url.
  webhook_token    text NOT NULL UNIQUE,
  account          text NOT NULL,      -- Twilio Account SID; 1msg API URL
  credentials      bytea NOT NULL,     -- AES-GCM sealed auth token
  credentials_hint text NOT NULL,      -- last characters, for the masked display
  sender           text NOT NULL,      -- the WhatsApp number, E.164
  default_group_id bigint NOT NULL,
  enabled          boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, default_group_id) REFERENCES groups (tenant_id, id)
);
ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integrations
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- The tenant's customers. A merged-away profile stays, empty, pointing at
-- its survivor: its URL redirects there, and an undo brings it back.
CREATE TABLE clients (
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id              bigint GENERATED ALWAYS AS IDENTITY,
  name            text NOT NULL DEFAULT '',
  whatsapp        text,   -- E.164
  phone           text,   -- E.164
  email           text,
  notes           text NOT NULL DEFAULT '',
  created_channel text NOT NULL DEFAULT 'manual',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  merged_into     bigint,
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT clients_merged_into_fkey FOREIGN KEY (tenant_id, merged_into) REFERENCES clients (tenant_id, id),
  CONSTRAINT clients_not_merged_into_itself CHECK (merged_into IS DISTINCT FROM id)
);
CREATE UNIQUE INDEX clients_whatsapp_key ON clients (tenant_id, whatsapp) WHERE whatsapp IS NOT NULL;
CREATE INDEX clients_phone ON clients (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX clients_merged_into ON clients (tenant_id, merged_into) WHERE merged_into IS NOT NULL;
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON clients
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

CREATE TABLE client_merges (
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id              bigint GENERATED ALWAYS AS IDENTITY,
  survivor_id     bigint NOT NULL,
  merged_id       bigint NOT NULL,
  agent_id        bigint,
  survivor_before jsonb NOT NULL,  -- the survivor's fields before the merge
  survivor_after  jsonb NOT NULL,  -- and right after it
  merged_fields   jsonb NOT NULL,  -- the merged-away profile's fields
  moved_cases     bigint[] NOT NULL,
  created_at      timestamptz NOT NULL,
  undone_at       timestamptz,
  undone_by       bigint,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, survivor_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, merged_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE SET NULL (agent_id),
  FOREIGN KEY (tenant_id, undone_by) REFERENCES agents (tenant_id, id) ON DELETE SET NULL (undone_by)
);
CREATE INDEX client_merges_survivor ON client_merges (tenant_id, survivor_id, id DESC);
CREATE INDEX client_merges_merged ON client_merges (tenant_id, merged_id);
ALTER TABLE client_merges ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON client_merges
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- A chat while live, a case once ended: one row, one state.
--
-- A client's message updates its chat's activity, unread count and preview.
-- No index holds a column it changes, so that the update is heap-only (and
-- a fifth of each page is kept free for it): the sweeps find chats by the
-- 10-second bin of their activity (activity_bin, client_message_bin) and
-- then check the time, and All cases orders by ended_activity_at, which is
-- set only once a chat has ended.
CREATE TABLE cases (
  tenant_id              uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                     bigint GENERATED ALWAYS AS IDENTITY,
  number                 bigint NOT NULL,
  client_id              bigint NOT NULL,
  integration_id         bigint,
  channel                text NOT NULL DEFAULT 'whatsapp',
  group_id               bigint NOT NULL,
  assignee_id            bigint,
  state                  text NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'ended')),
  status                 text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'solved', 'closed')),
  preview                text NOT NULL DEFAULT '',
  unread                 int NOT NULL DEFAULT 0,   -- client messages no agent has seen
  previous_case_id       bigint,
  created_at             timestamptz NOT NULL,
  last_activity_at       timestamptz NOT NULL,
  last_client_message_at timestamptz,
  ended_at               timestamptz,
  ended_by               text,
  window_closed_at       timestamptz, -- when the window sweep marked the 24-hour window closed
  tags                   text[] NOT NULL DEFAULT '{}',
  activity_bin           timestamptz
    GENERATED ALWAYS AS (date_bin('10 seconds', last_activity_at, timestamptz '2000-01-01 00:00:00+00')) STORED,
  client_message_bin     timestamptz
    GENERATED ALWAYS AS (date_bin('10 seconds', last_client_message_at, timestamptz '2000-01-01 00:00:00+00')) STORED,
  ended_activity_at      timestamptz
    GENERATED ALWAYS AS (CASE WHEN state = 'ended' THEN last_activity_at END) STORED,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, number),
  FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE SET NULL (integration_id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id),
  FOREIGN KEY (tenant_id, assignee_id) REFERENCES agents (tenant_id, id) ON DELETE SET NULL (assignee_id),
  FOREIGN KEY (tenant_id, previous_case_id) REFERENCES cases (tenant_id, id)
) WITH (fillfactor = 80);
-- At most one live chat per client and integration: concurrent first
-- messages of a new client open one chat, not two.
CREATE UNIQUE INDEX cases_one_live_chat ON cases (tenant_id, client_id, integration_id) WHERE state = 'live';
-- The sweeps: live chats by the bin of their activity and of their client's
-- last message.
CREATE INDEX cases_live_activity ON cases (activity_bin) WHERE state = 'live';
CREATE INDEX cases_live_client_message ON cases (client_message_bin) WHERE state = 'live';
-- All cases: newest activity first, keyset pages.
CREATE INDEX cases_ended_activity ON cases (tenant_id, ended_activity_at DESC, id DESC) WHERE state = 'ended';
CREATE INDEX cases_client ON cases (tenant_id, client_id);
CREATE INDEX cases_previous ON cases (tenant_id, previous_case_id) WHERE previous_case_id IS NOT NULL;
ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cases
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- A chat opened for a client whom a merge is moving away (a WhatsApp
-- message that arrives during the merge) goes to the survivor: the lock
-- waits for the merge, and then reads where the client went.
-- +goose StatementBegin
CREATE FUNCTION cases_follow_merge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next bigint;
BEGIN
  FOR hop IN 1..100 LOOP
    SELECT merged_into INTO next FROM clients WHERE tenant_id = NEW.tenant_id AND id = NEW.client_id FOR KEY SHARE;
    EXIT WHEN next IS NULL;
    NEW.client_id := next;
  END LOOP;
  RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER cases_follow_merge BEFORE INSERT ON cases FOR EACH ROW EXECUTE FUNCTION cases_follow_merge();

-- Everything in a conversation, in order: client and agent messages,
-- internal notes and system events. (No foreign key to tenants: the one to
-- cases holds the tenant, and a message's insert checks one key, not two.)
CREATE TABLE messages (
  tenant_id           uuid NOT NULL,
  id                  bigint GENERATED ALWAYS AS IDENTITY,
  case_id             bigint NOT NULL,
  integration_id      bigint,
  direction           text NOT NULL CHECK (direction IN ('in', 'out', 'internal')),
  kind                text NOT NULL CHECK (kind IN ('text', 'file', 'location', 'template', 'note', 'event')),
  agent_id            bigint,
  body                text NOT NULL DEFAULT '',
  status              text NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed', 'none')),
  error_code          text,
  error_message       text,
  provider_message_id text,
  idempotency_key     text,
  meta                jsonb NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE SET NULL (agent_id)
);
-- A provider's retry stores nothing new.
CREATE UNIQUE INDEX messages_provider_key ON messages (integration_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
-- A double click or a retried POST stores one reply.
CREATE UNIQUE INDEX messages_idempotency_key ON messages (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_case ON messages (tenant_id, case_id, id);
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON messages
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- Files sent or received, stored through the media store.
CREATE TABLE attachments (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id           bigint GENERATED ALWAYS AS IDENTITY,
  message_id   bigint NOT NULL,
  filename     text NOT NULL DEFAULT '',
  content_type text NOT NULL DEFAULT 'application/octet-stream',
  size         bigint,
  state        text NOT NULL CHECK (state IN ('pending', 'stored', 'too_large', 'failed')),
  storage_key  text,
  source_url   text,     -- the provider's URL, for the fetch job
  public_token text UNIQUE, -- outgoing files: the unguessable URL the provider fetches
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX attachments_message ON attachments (tenant_id, message_id);
ALTER TABLE attachments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON attachments
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- Cross-tenant lookups, each for one purpose (see the tenants file).

-- A webhook's integration, whole, found by the token in its URL.
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

-- A provider fetches an outgoing file by its unguessable token.
CREATE FUNCTION attachment_by_public_token(p_token text)
  RETURNS TABLE (tenant_id uuid, attachment_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, id FROM attachments WHERE public_token = p_token $$;

-- Live chats idle past their tenant's timeout, in every tenant, oldest
-- first. A chat's bin starts at or before its time, so the bin bounds the
-- index scan (by the shortest timeout any tenant has chosen) and the time
-- decides, with each tenant's own timeout.
CREATE FUNCTION idle_chats(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT c.tenant_id, c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id
    WHERE c.state = 'live'
      AND c.activity_bin <= p_now - make_interval(mins => (SELECT min(chat_idle_minutes) FROM tenants))
      AND c.last_activity_at <= p_now - make_interval(mins => t.chat_idle_minutes)
    ORDER BY c.activity_bin LIMIT p_limit
  $$;

-- Live chats whose 24-hour window has closed and not yet been marked, in
-- every tenant.
CREATE FUNCTION closed_windows(p_now timestamptz, p_limit int)
  RETURNS TABLE (tenant_id uuid, case_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$
    SELECT c.tenant_id, c.id FROM cases c
    WHERE c.state = 'live' AND c.client_message_bin <= p_now - interval '24 hours'
      AND c.last_client_message_at <= p_now - interval '24 hours'
      AND (c.window_closed_at IS NULL OR c.window_closed_at < c.last_client_message_at + interval '24 hours')
    ORDER BY c.client_message_bin LIMIT p_limit
  $$;

REVOKE EXECUTE ON FUNCTION integration_by_webhook_token(text), attachment_by_public_token(text),
  idle_chats(timestamptz, int), closed_windows(timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION integration_by_webhook_token(text), attachment_by_public_token(text),
  idle_chats(timestamptz, int), closed_windows(timestamptz, int) TO parley_app;
