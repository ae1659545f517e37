-- Login throttling and the per-address limits, shared by every replica:
-- each replica counted in its own memory, so N replicas behind a load
-- balancer let N times the guesses in. Keys are SHA-256 digests (of the
-- client address and email, of the limit's name and key): the tables hold
-- no address or email.

-- +goose Up
CREATE TABLE login_failures (
  key        bytea PRIMARY KEY,
  failures   int NOT NULL,
  last_at    timestamptz NOT NULL,
  wait_until timestamptz NOT NULL
);
CREATE INDEX login_failures_last_at ON login_failures (last_at);

CREATE TABLE rate_counts (
  key          bytea NOT NULL,
  window_start timestamptz NOT NULL,
  count        int NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_counts_window_start ON rate_counts (window_start);

-- +goose Down
DROP TABLE rate_counts;
DROP TABLE login_failures;
