-- Unread is per agent (issue 21): each agent's last read message of a chat.
-- A chat's unread for an agent is its client messages after that one.
-- And each agent's own alerts: a desktop notification and a sound, both
-- off until the agent turns them on.

-- +goose Up
CREATE TABLE chat_reads (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  agent_id     bigint NOT NULL,
  case_id      bigint NOT NULL,
  last_read_id bigint NOT NULL, -- messages.id of the last message the agent saw
  read_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, agent_id, case_id),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_reads_case ON chat_reads (tenant_id, case_id);
ALTER TABLE chat_reads ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_reads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON chat_reads
  USING (tenant_id = (SELECT current_tenant())) WITH CHECK (tenant_id = (SELECT current_tenant()));
CREATE POLICY owner_crosses_tenants ON chat_reads TO CURRENT_USER USING (true) WITH CHECK (true);

ALTER TABLE agents ADD COLUMN alert_desktop boolean NOT NULL DEFAULT false;
ALTER TABLE agents ADD COLUMN alert_sound boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE agents DROP COLUMN alert_sound;
ALTER TABLE agents DROP COLUMN alert_desktop;
DROP TABLE chat_reads;
