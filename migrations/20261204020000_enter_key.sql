-- An agent's Enter key in the reply box: false (the default), Enter sends
-- and Shift+Enter breaks the line; true, the other way round. A column of
-- agents, which already has its tenant's row-level security.

-- +goose Up
ALTER TABLE agents ADD COLUMN enter_breaks_line boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE agents DROP COLUMN enter_breaks_line;
