-- A one-time code is accepted once (RFC 6238, section 5.2): the time step
-- of the last code an agent used, so the same code, seen by someone over
-- the agent's shoulder or in a proxy's log, cannot sign in again within
-- its 30 seconds (or the step of skew either side).

-- +goose Up
ALTER TABLE agents ADD COLUMN totp_last_step bigint;

-- +goose Down
ALTER TABLE agents DROP COLUMN totp_last_step;
