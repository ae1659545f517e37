-- Rule events: a change that fires rules records its events here, in its
-- own transaction, and queues one rule run per tenant unless one is queued
-- already; the run (a River job) takes all the tenant's events in order. A
-- River job per change cost more than the rules themselves.

-- +goose Up
CREATE TABLE rule_events (
  tenant_id  uuid NOT NULL,
  id         bigint GENERATED ALWAYS AS IDENTITY,
  trigger    text NOT NULL,
  case_id    bigint NOT NULL,
  message_id bigint,
  rule_id    bigint, -- a waiting trigger's rule, whose wait is over
  chain      uuid NOT NULL DEFAULT gen_random_uuid(),
  depth      int NOT NULL DEFAULT 1,
  attempts   int NOT NULL DEFAULT 0, -- runs of its rules that failed
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE rule_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rule_events
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

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

-- record_rule_events records events of one trigger if the tenant has
-- enabled rules for it (for a waiting trigger: that rule), and says
-- whether the caller must queue the rule run's job. Chains and depths
-- may be NULL: new chains.
-- +goose StatementBegin
CREATE FUNCTION record_rule_events(p_trigger text, p_cases bigint[], p_messages bigint[], p_rule bigint, p_chains uuid[], p_depths int[])
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(p_cases), 0) = 0
     OR NOT EXISTS (SELECT FROM rules WHERE enabled AND trigger = p_trigger AND (p_rule IS NULL OR id = p_rule)) THEN
    RETURN false;
  END IF;
  INSERT INTO rule_events (tenant_id, trigger, case_id, message_id, rule_id, chain, depth)
  SELECT current_tenant(), p_trigger, c, nullif(m, 0), p_rule, coalesce(ch, gen_random_uuid()), coalesce(d, 1)
  FROM unnest(p_cases, p_messages, p_chains, p_depths) AS u(c, m, ch, d);
  RETURN queue_rule_run();
END $$;
-- +goose StatementEnd

-- Rule jobs queued before this migration named their events in their
-- arguments: their events move here, and the jobs (same kind, the tenant
-- still in their arguments) run them as the tenant's queued run.
-- +goose StatementBegin
DO $$
BEGIN
  IF to_regclass('river_job') IS NULL THEN
    RETURN; -- a new database: River's tables come after ours
  END IF;
  INSERT INTO rule_events (tenant_id, trigger, case_id, message_id, rule_id, chain, depth)
  SELECT (j.args->>'tenant_id')::uuid, j.args->>'trigger', (e->>'case_id')::bigint, nullif((e->>'message_id')::bigint, 0),
    nullif((j.args->>'rule_id')::bigint, 0), coalesce((e->'chain'->>'id')::uuid, gen_random_uuid()), coalesce((e->'chain'->>'depth')::int, 1)
  FROM river_job j,
    LATERAL (SELECT j.args - 'more' AS e UNION ALL SELECT jsonb_array_elements(coalesce(j.args->'more', '[]'))) ev
  WHERE j.kind = 'run_rules' AND j.state IN ('available', 'scheduled', 'retryable', 'pending')
  ORDER BY j.id;
  INSERT INTO rule_queues (tenant_id, queued)
  SELECT DISTINCT (args->>'tenant_id')::uuid, true FROM river_job
  WHERE kind = 'run_rules' AND state IN ('available', 'scheduled', 'retryable', 'pending');
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION record_rule_events(text, bigint[], bigint[], bigint, uuid[], int[]);
DROP FUNCTION queue_rule_run();
DROP TABLE rule_queues;
DROP TABLE rule_events;
