-- Automation rules: a trigger, conditions (all or any) and ordered actions,
-- run in order by a River job recorded with the change that fired them.

-- +goose Up
-- Business hours in rules are read in the tenant's time zone.
ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

CREATE TABLE rules (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  enabled    boolean NOT NULL DEFAULT true,
  position   int NOT NULL DEFAULT 0,
  trigger    text NOT NULL CHECK (trigger IN ('chat_started', 'client_message', 'agent_message', 'chat_ended', 'status_changed', 'message_failed')),
  match      text NOT NULL DEFAULT 'all' CHECK (match IN ('all', 'any')),
  conditions jsonb NOT NULL DEFAULT '[]',
  actions    jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX rules_trigger ON rules (tenant_id, trigger, position, id) WHERE enabled;
ALTER TABLE rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rules
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE rules;
ALTER TABLE tenants DROP COLUMN time_zone;
