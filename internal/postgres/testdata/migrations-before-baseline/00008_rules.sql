-- Automation rules: a trigger, conditions (all or any) and ordered actions,
-- run in order by a River job recorded with the change that fired them.

-- +goose Up
-- Business hours in rules are read in the tenant's time zone.
ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
-- Tags on chats and cases, set by agents' rules.
ALTER TABLE cases ADD COLUMN tags text[] NOT NULL DEFAULT '{}';

CREATE TABLE rules (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  enabled    boolean NOT NULL DEFAULT true,
  position   int NOT NULL DEFAULT 0,
  trigger    text NOT NULL CHECK (trigger IN ('chat_started', 'client_message', 'agent_message', 'chat_ended', 'status_changed', 'message_failed', 'no_client_reply', 'no_agent_reply')),
  minutes    int CHECK (minutes BETWEEN 1 AND 10080), -- for the waiting triggers
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

-- A waiting trigger ("no agent reply for 5 minutes") fires once per
-- waiting period: the period starts with the message that is waiting.
CREATE TABLE rule_fires (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  rule_id      bigint NOT NULL,
  case_id      bigint NOT NULL,
  period_start timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, rule_id, case_id, period_start),
  FOREIGN KEY (tenant_id, rule_id) REFERENCES rules (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE rule_fires ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rule_fires
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- A rule fires at most once in a chain of events (an event, the events
-- its rules' actions cause, and so on): the first run that records it here
-- fires it. Rows are purged after a day.
CREATE TABLE rule_chain_fires (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  chain      uuid NOT NULL,
  rule_id    bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, chain, rule_id),
  FOREIGN KEY (tenant_id, rule_id) REFERENCES rules (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX rule_chain_fires_created ON rule_chain_fires (created_at);
ALTER TABLE rule_chain_fires ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rule_chain_fires
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE FUNCTION purge_rule_chain_fires(p_before timestamptz) RETURNS bigint
  LANGUAGE sql SECURITY DEFINER SET search_path = public
  AS $$ WITH d AS (DELETE FROM rule_chain_fires WHERE created_at < p_before RETURNING 1) SELECT count(*) FROM d $$;
REVOKE EXECUTE ON FUNCTION purge_rule_chain_fires(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_rule_chain_fires(timestamptz) TO parley_app;

-- The tenants that have enabled waiting rules, for the sweep that fires
-- them (it crosses tenants on purpose).
CREATE FUNCTION waiting_rule_tenants() RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT DISTINCT tenant_id FROM rules WHERE enabled AND trigger IN ('no_client_reply', 'no_agent_reply') $$;
REVOKE EXECUTE ON FUNCTION waiting_rule_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION waiting_rule_tenants() TO parley_app;

-- +goose Down
DROP FUNCTION waiting_rule_tenants();
DROP FUNCTION purge_rule_chain_fires(timestamptz);
DROP TABLE rule_chain_fires;
DROP TABLE rule_fires;
DROP TABLE rules;
ALTER TABLE cases DROP COLUMN tags;
ALTER TABLE tenants DROP COLUMN time_zone;
