-- A change records its rule events as one row, their chats, messages and
-- chains in arrays, instead of a row each: a batch of client messages
-- writes, and its run later reads and deletes, one row instead of dozens
-- (the rows were most of what rules cost the webhook). done counts the
-- row's events that ran, in order; attempts are those of its next one.
-- A NULL chain is a new one, named from the row and the event's place in
-- it, so that a retried run sees the same chain.

-- +goose Up
ALTER TABLE rule_events
  ADD COLUMN case_ids bigint[],
  ADD COLUMN message_ids bigint[], -- 0: no message
  ADD COLUMN chains uuid[],
  ADD COLUMN depths int[],
  ADD COLUMN done int NOT NULL DEFAULT 0;
UPDATE rule_events SET case_ids = ARRAY[case_id], message_ids = ARRAY[coalesce(message_id, 0)], chains = ARRAY[chain], depths = ARRAY[depth];
ALTER TABLE rule_events
  DROP COLUMN case_id, DROP COLUMN message_id, DROP COLUMN chain, DROP COLUMN depth,
  ALTER COLUMN case_ids SET NOT NULL, ALTER COLUMN message_ids SET NOT NULL;

-- The events that wait, one row each, in the order they run. As its
-- caller: the tenant's policy applies.
CREATE VIEW rule_event_list WITH (security_invoker = true) AS
SELECT e.tenant_id, e.id, u.ord::int AS ord, e.trigger, u.case_id, nullif(u.message_id, 0) AS message_id, e.rule_id,
  coalesce(u.chain, md5(e.tenant_id::text || '/' || e.id || '/' || u.ord)::uuid) AS chain, coalesce(u.depth, 1) AS depth,
  CASE WHEN u.ord = e.done + 1 THEN e.attempts ELSE 0 END AS attempts
FROM rule_events e
CROSS JOIN LATERAL unnest(e.case_ids, e.message_ids, e.chains, e.depths) WITH ORDINALITY AS u(case_id, message_id, chain, depth, ord)
WHERE u.ord > e.done;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION record_rule_events(p_trigger text, p_cases bigint[], p_messages bigint[], p_rule bigint, p_chains uuid[], p_depths int[])
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(p_cases), 0) = 0
     OR NOT EXISTS (SELECT FROM rules WHERE enabled AND trigger = p_trigger AND (p_rule IS NULL OR id = p_rule)) THEN
    RETURN false;
  END IF;
  INSERT INTO rule_events (tenant_id, trigger, rule_id, case_ids, message_ids, chains, depths)
  VALUES (current_tenant(), p_trigger, p_rule, p_cases, coalesce(p_messages, '{}'), p_chains, p_depths);
  RETURN queue_rule_run();
END $$;
-- +goose StatementEnd

-- +goose Down
DROP VIEW rule_event_list;
ALTER TABLE rule_events
  ADD COLUMN case_id bigint, ADD COLUMN message_id bigint, ADD COLUMN chain uuid DEFAULT gen_random_uuid(), ADD COLUMN depth int DEFAULT 1;
INSERT INTO rule_events (tenant_id, trigger, rule_id, attempts, case_ids, message_ids, case_id, message_id, chain, depth)
SELECT e.tenant_id, e.trigger, e.rule_id, CASE WHEN u.ord = e.done + 1 THEN e.attempts ELSE 0 END, '{}', '{}',
  u.case_id, nullif(u.message_id, 0), coalesce(u.chain, gen_random_uuid()), coalesce(u.depth, 1)
FROM rule_events e
CROSS JOIN LATERAL unnest(e.case_ids, e.message_ids, e.chains, e.depths) WITH ORDINALITY AS u(case_id, message_id, chain, depth, ord)
WHERE u.ord > e.done AND e.case_id IS NULL
ORDER BY e.id, u.ord;
DELETE FROM rule_events WHERE case_id IS NULL;
ALTER TABLE rule_events
  DROP COLUMN case_ids, DROP COLUMN message_ids, DROP COLUMN chains, DROP COLUMN depths, DROP COLUMN done,
  ALTER COLUMN case_id SET NOT NULL, ALTER COLUMN chain SET NOT NULL, ALTER COLUMN depth SET NOT NULL;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION record_rule_events(p_trigger text, p_cases bigint[], p_messages bigint[], p_rule bigint, p_chains uuid[], p_depths int[])
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
