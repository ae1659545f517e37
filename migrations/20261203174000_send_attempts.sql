-- Exactly-once sending. send_attempted_at is when Parley last handed a
-- queued message to its provider without learning the outcome yet: the
-- next attempt (a retry, or a job rescued after a crash) first asks the
-- provider whether the message exists. A message whose outcome Parley
-- could not learn ends "unconfirmed", shown to the agent in plain words.

-- +goose Up
ALTER TABLE messages ADD COLUMN send_attempted_at timestamptz;
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
  CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed', 'unconfirmed', 'none')) NOT VALID;
ALTER TABLE messages VALIDATE CONSTRAINT messages_status_check;

-- +goose Down
UPDATE messages SET status = 'failed' WHERE status = 'unconfirmed';
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
  CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed', 'none'));
ALTER TABLE messages DROP COLUMN send_attempted_at;
