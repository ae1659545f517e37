-- Automation rules, the events they run for and the tenant's queue of rule
-- runs.

-- +goose Up
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

-- Rule events: a change that fires rules records its events as one row (a
-- batch of client messages: one row for all), in its own transaction. The
-- arrays hold one element per event; a message id of 0 is none, and a NULL
-- chain a new one, named from the row and the event's place in it, so that
-- a retried run sees the same chain. done counts the row's events that
-- ran, in order; attempts are those of its next one.
CREATE TABLE rule_events (
  tenant_id   uuid NOT NULL,
  id          bigint GENERATED ALWAYS AS IDENTITY,
  trigger     text NOT NULL,
  rule_id     bigint, -- a waiting trigger's rule, whose wait is over
  attempts    int NOT NULL DEFAULT 0, -- runs of its next event's rules that failed
  case_ids    bigint[] NOT NULL,
  message_ids bigint[] NOT NULL,
  chains      uuid[],
  depths      int[],
  done        int NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE rule_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rule_events
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- The events that wait, one row each, in the order they run. As its
-- caller: the tenant's policy applies.
CREATE VIEW rule_event_list WITH (security_invoker = true) AS
SELECT e.tenant_id, e.id, u.ord::int AS ord, e.trigger, u.case_id, nullif(u.message_id, 0) AS message_id, e.rule_id,
  coalesce(u.chain, md5(e.tenant_id::text || '/' || e.id || '/' || u.ord)::uuid) AS chain, coalesce(u.depth, 1) AS depth,
  CASE WHEN u.ord = e.done + 1 THEN e.attempts ELSE 0 END AS attempts
FROM rule_events e
CROSS JOIN LATERAL unnest(e.case_ids, e.message_ids, e.chains, e.depths) WITH ORDINALITY AS u(case_id, message_id, chain, depth, ord)
WHERE u.ord > e.done;

-- queued: a rule run is queued that has not started yet; it will take
-- every event recorded until it starts. draining_until: a run is taking
-- the events (one at a time per tenant, so that they run in order), until
-- then at the latest.
CREATE TABLE rule_queues (
  tenant_id      uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  queued         boolean NOT NULL DEFAULT false,
  draining_until timestamptz
);
ALTER TABLE rule_queues ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rule_queues
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- queue_rule_run marks the tenant's rule run queued and says whether the
-- caller must queue its job (it was not queued). It holds, until the
-- caller's transaction ends, a shared lock that a starting run takes
-- exclusively before it marks the queue empty: a run that starts after
-- this transaction commits sees the events it recorded, and one that
-- started before leaves the queue marked empty for this call to see.
-- Shared: transactions recording events do not wait for each other.
-- +goose StatementBegin
CREATE FUNCTION queue_rule_run() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  was_queued boolean;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtextextended('rule_queue ' || current_tenant(), 0));
  -- (A volatile function's statements each see what committed before them.)
  SELECT queued INTO was_queued FROM rule_queues WHERE tenant_id = current_tenant();
  IF NOT FOUND THEN
    INSERT INTO rule_queues (tenant_id, queued) VALUES (current_tenant(), true) ON CONFLICT DO NOTHING;
    RETURN FOUND;
  ELSIF was_queued THEN
    RETURN false;
  END IF;
  UPDATE rule_queues SET queued = true WHERE tenant_id = current_tenant() AND NOT queued;
  RETURN FOUND;
END $$;
-- +goose StatementEnd

-- Cross-tenant work, each for one purpose (see the tenants file).

-- The periodic purge: rule chains of more than a day ago.
CREATE FUNCTION purge_rule_chain_fires(p_before timestamptz) RETURNS bigint
  LANGUAGE sql SECURITY DEFINER SET search_path = public
  AS $$ WITH d AS (DELETE FROM rule_chain_fires WHERE created_at < p_before RETURNING 1) SELECT count(*) FROM d $$;

-- The tenants that have enabled waiting rules, for the sweep that fires
-- them.
CREATE FUNCTION waiting_rule_tenants() RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT DISTINCT tenant_id FROM rules WHERE enabled AND trigger IN ('no_client_reply', 'no_agent_reply') $$;

REVOKE EXECUTE ON FUNCTION purge_rule_chain_fires(timestamptz), waiting_rule_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_rule_chain_fires(timestamptz), waiting_rule_tenants() TO parley_app;
