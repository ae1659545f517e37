-- Rule events are recorded by one Go statement (package ruleevent), in an
-- ordinary transaction that queues the rule run itself when one is needed:
-- the PL/pgSQL twin of that statement and the refusal a one-round-trip
-- batch needed instead of queueing go.

-- +goose Up
DROP FUNCTION refuse_rule_run(boolean);
DROP FUNCTION record_rule_events(text, bigint[], bigint[], bigint, uuid[], int[]);

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION refuse_rule_run(queue boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF queue THEN
    RAISE EXCEPTION 'the change needs a rule run queued' USING ERRCODE = 'PR001';
  END IF;
  RETURN false;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION record_rule_events(p_trigger text, p_cases bigint[], p_messages bigint[], p_rule bigint, p_chains uuid[], p_depths int[])
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
