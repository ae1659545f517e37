-- Clients with several WhatsApp numbers: a merge keeps every number (the
-- merged-away profile keeps its own, and a message from it lands on the
-- profile it was merged into), so a chat remembers the number the client
-- wrote from, and replies go there.

-- +goose Up
ALTER TABLE cases ADD COLUMN client_whatsapp text;

-- +goose Down
ALTER TABLE cases DROP COLUMN client_whatsapp;
