-- Presence: an agent is online while one of their pages holds its stream of
-- live updates open; the stream marks the time every 25 seconds. Rules that
-- assign round-robin pick among the group's online agents.

-- +goose Up
ALTER TABLE agents ADD COLUMN seen_at timestamptz;

-- +goose Down
ALTER TABLE agents DROP COLUMN seen_at;
