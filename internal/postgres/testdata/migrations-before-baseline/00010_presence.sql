-- Presence: an agent is online while one of their pages holds its stream of
-- live updates open; the stream marks the time every 25 seconds. An agent
-- may say they are away. Rules that assign round-robin pick among the
-- group's online agents who are not away.

-- +goose Up
ALTER TABLE agents ADD COLUMN seen_at timestamptz, ADD COLUMN away boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE agents DROP COLUMN seen_at, DROP COLUMN away;
