-- A batch of client messages goes to Postgres in one round trip, as one
-- implicit transaction (conversation.storeTenantBatch), which cannot queue
-- a River job after its statement. When the batch's rule events need the
-- tenant's rule run queued (none is queued yet: rare under load, since one
-- queued run takes every event recorded until it starts), the statement
-- refuses with this function's error instead, everything it did is rolled
-- back, and the batch is stored again by an ordinary transaction that
-- queues the run with River's InsertTx.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION refuse_rule_run(queue boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF queue THEN
    RAISE EXCEPTION 'the change needs a rule run queued' USING ERRCODE = 'PR001';
  END IF;
  RETURN false;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION refuse_rule_run(boolean);
