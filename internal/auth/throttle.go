package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/go-chi/httprate"
	"github.com/jackc/pgx/v5"

	"parley/internal/clock"
	"parley/internal/postgres"
)

// Login throttling is by (client address, email): after LoginFreeFailures
// wrong passwords in a row, each further attempt from that address for
// that email waits a delay that doubles with every failure (1 s, 2 s, 4 s
// … up to loginMaxDelay), and an attempt during the wait is refused before
// the password is checked. Nothing is locked: the same email from another
// address is not slowed, so an attacker can slow only their own guesses,
// never keep an agent out. A correct password clears the count; a count
// with no failure for loginForgetAfter is forgotten.
const (
	LoginFreeFailures = 5
	loginMaxDelay     = 15 * time.Minute
	loginForgetAfter  = time.Hour
	// rateKeep is how long a limit's counts are kept: two windows of the
	// longest limit (an hour) and some.
	rateKeep = 3 * time.Hour
)

// Throttle keeps the login throttle's counts and the per-address limits'
// in Postgres, so that every replica counts the same guesses.
type Throttle struct {
	db    *postgres.DB
	clock clock.Clock
}

// NewThrottle returns the throttle kept in db.
func NewThrottle(db *postgres.DB, c clock.Clock) *Throttle {
	return &Throttle{db: db, clock: c}
}

func digest(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// LoginWait is how long attempts for key (the client address and the
// email) must still wait (0: none).
func (t *Throttle) LoginWait(ctx context.Context, key string) (time.Duration, error) {
	var until time.Time
	err := t.db.Pool.QueryRow(ctx, `SELECT wait_until FROM login_failures WHERE key = $1`, digest(key)).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("login wait: %w", err)
	}
	return max(until.Sub(t.clock.Now()), 0), nil
}

// LoginFailed counts a wrong password for key and returns the wait it
// now has.
func (t *Throttle) LoginFailed(ctx context.Context, key string) (time.Duration, error) {
	now := t.clock.Now()
	var wait time.Duration
	err := t.db.InSystem(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `INSERT INTO login_failures AS f (key, failures, last_at, wait_until) VALUES ($1, 1, $2, $2)
			ON CONFLICT (key) DO UPDATE SET last_at = $2,
				failures = CASE WHEN f.last_at < $3 THEN 1 ELSE f.failures + 1 END
			RETURNING failures`, digest(key), now, now.Add(-loginForgetAfter)).Scan(&n); err != nil {
			return err
		}
		if n < LoginFreeFailures {
			return nil
		}
		wait = loginDelay(n)
		_, err := tx.Exec(ctx, `UPDATE login_failures SET wait_until = $2 WHERE key = $1`, digest(key), now.Add(wait))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count a wrong password: %w", err)
	}
	return wait, nil
}

// loginDelay is the wait after n wrong passwords in a row (n ≥ LoginFreeFailures).
func loginDelay(n int) time.Duration {
	if e := n - LoginFreeFailures; e < 20 {
		return min(time.Second<<e, loginMaxDelay)
	}
	return loginMaxDelay
}

// LoginSucceeded clears key's count.
func (t *Throttle) LoginSucceeded(ctx context.Context, key string) error {
	if _, err := t.db.Pool.Exec(ctx, `DELETE FROM login_failures WHERE key = $1`, digest(key)); err != nil {
		return fmt.Errorf("clear wrong passwords: %w", err)
	}
	return nil
}

// PurgeExpired deletes forgotten counts.
func (t *Throttle) PurgeExpired(ctx context.Context) (int64, error) {
	now := t.clock.Now()
	var n int64
	err := t.db.InSystem(ctx, func(tx pgx.Tx) error {
		a, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE last_at < $1 AND wait_until < $2`, now.Add(-loginForgetAfter), now)
		if err != nil {
			return err
		}
		b, err := tx.Exec(ctx, `DELETE FROM rate_counts WHERE window_start < $1`, time.Now().Add(-rateKeep))
		n = a.RowsAffected() + b.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge throttle counts: %w", err)
	}
	return n, nil
}

// Counter is httprate's count of one limit (name tells the limits apart),
// kept in Postgres.
func (t *Throttle) Counter(name string) httprate.LimitCounter {
	return &rateCounter{db: t.db, name: name}
}

type rateCounter struct {
	db   *postgres.DB
	name string
}

// rateTimeout bounds one count: httprate gives no context.
const rateTimeout = 5 * time.Second

func (c *rateCounter) Config(int, time.Duration) {}

func (c *rateCounter) Increment(key string, window time.Time) error {
	return c.IncrementBy(key, window, 1)
}

func (c *rateCounter) IncrementBy(key string, window time.Time, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
	defer cancel()
	if _, err := c.db.Pool.Exec(ctx, `INSERT INTO rate_counts AS r (key, window_start, count) VALUES ($1, $2, $3)
		ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + $3`, digest(c.name, key), window, n); err != nil {
		return fmt.Errorf("count for %s: %w", c.name, err)
	}
	return nil
}

func (c *rateCounter) Get(key string, current, previous time.Time) (int, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
	defer cancel()
	var cur, prev int
	if err := c.db.Pool.QueryRow(ctx, `SELECT coalesce(sum(count) FILTER (WHERE window_start = $2), 0), coalesce(sum(count) FILTER (WHERE window_start = $3), 0)
		FROM rate_counts WHERE key = $1 AND window_start IN ($2, $3)`, digest(c.name, key), current, previous).Scan(&cur, &prev); err != nil {
		return 0, 0, fmt.Errorf("counts for %s: %w", c.name, err)
	}
	return cur, prev, nil
}
