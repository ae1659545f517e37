-- Case statuses are a tenant setting (Settings → Statuses): End chat,
-- rules, macros and the case page offer and accept the tenant's list. The
-- fixed lists in the cases and macros checks give way to it; the service
-- checks a status against its tenant's list.

-- +goose Up
ALTER TABLE tenants ADD COLUMN statuses text[] NOT NULL DEFAULT '{open,pending,solved,closed}'
  CHECK (cardinality(statuses) BETWEEN 1 AND 20);
ALTER TABLE cases DROP CONSTRAINT cases_status_check;
ALTER TABLE cases ADD CONSTRAINT cases_status_check CHECK (length(status) BETWEEN 1 AND 30);
ALTER TABLE macros DROP CONSTRAINT macros_set_status_check;
ALTER TABLE macros ADD CONSTRAINT macros_set_status_check CHECK (length(set_status) BETWEEN 1 AND 30);
