-- A password reset ends the agent's other sessions: each session keeps the
-- agent's session_epoch of when it signed in, and a session whose epoch is
-- behind the agent's is signed out at its next request (and its open
-- pages' streams end).

-- +goose Up
ALTER TABLE agents ADD COLUMN session_epoch int NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE agents DROP COLUMN session_epoch;
