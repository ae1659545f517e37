-- WhatsApp integrations, clients, chats/cases and their messages.

-- +goose Up
ALTER TABLE tenants
  ADD COLUMN case_seq bigint NOT NULL DEFAULT 0,
  ADD COLUMN chat_idle_minutes int NOT NULL DEFAULT 10 CHECK (chat_idle_minutes BETWEEN 1 AND 1440),
  ADD COLUMN chat_end_status text NOT NULL DEFAULT 'solved';

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

-- The tenant's customers.
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
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX clients_whatsapp_key ON clients (tenant_id, whatsapp) WHERE whatsapp IS NOT NULL;
CREATE INDEX clients_phone ON clients (tenant_id, phone) WHERE phone IS NOT NULL;
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON clients
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- A chat while live, a case once ended: one row, one state.
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
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, number),
  FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE SET NULL (integration_id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id),
  FOREIGN KEY (tenant_id, assignee_id) REFERENCES agents (tenant_id, id) ON DELETE SET NULL (assignee_id),
  FOREIGN KEY (tenant_id, previous_case_id) REFERENCES cases (tenant_id, id)
);
-- At most one live chat per client and integration: concurrent first
-- messages of a new client open one chat, not two.
CREATE UNIQUE INDEX cases_one_live_chat ON cases (tenant_id, client_id, integration_id) WHERE state = 'live';
CREATE INDEX cases_live_activity ON cases (last_activity_at) WHERE state = 'live';
CREATE INDEX cases_client ON cases (tenant_id, client_id, last_activity_at DESC);
ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cases
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- Everything in a conversation, in order: client and agent messages,
-- internal notes and system events.
CREATE TABLE messages (
  tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
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

-- A webhook finds its tenant and integration by the token in its URL.
CREATE FUNCTION integration_by_webhook_token(p_token text)
  RETURNS TABLE (tenant_id uuid, integration_id bigint, provider text, enabled boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, id, provider, enabled FROM integrations WHERE webhook_token = p_token $$;

-- A provider fetches an outgoing file by its unguessable token.
CREATE FUNCTION attachment_by_public_token(p_token text)
  RETURNS TABLE (tenant_id uuid, attachment_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT tenant_id, id FROM attachments WHERE public_token = p_token $$;

REVOKE EXECUTE ON FUNCTION integration_by_webhook_token(text), attachment_by_public_token(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION integration_by_webhook_token(text), attachment_by_public_token(text) TO parley_app;

-- +goose Down
DROP FUNCTION attachment_by_public_token(text);
DROP FUNCTION integration_by_webhook_token(text);
DROP TABLE attachments, messages, cases, clients, integrations;
ALTER TABLE tenants DROP COLUMN case_seq, DROP COLUMN chat_idle_minutes, DROP COLUMN chat_end_status;
