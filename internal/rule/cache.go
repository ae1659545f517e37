package rule

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/realtime"
)

// setupTTL bounds how long a cached setup is trusted without news of a
// change (a replica whose listener reconnected forgets everything anyway).
const setupTTL = time.Minute

// setup is what every rule run of a tenant reads: its enabled rules in the
// order they run, and its time zone. Runs find it in a cache that every
// change to rules or to the time zone empties, on every replica (see
// change), so that a run under load reads only its events' chats.
type setup struct {
	rules []Rule
	loc   *time.Location
	at    time.Time
}

type setupCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[uuid.UUID]setup
}

// Forget empties the cache of rule setups: rules changed, here or (told by
// a notification) on another replica.
func (s *Service) Forget() {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	s.cache.gen++
	clear(s.cache.m)
}

// setup returns the tenant's setup, from the cache or read afresh.
func (s *Service) setup(ctx context.Context, tid uuid.UUID) (setup, error) {
	c := &s.cache
	c.mu.Lock()
	st, ok := c.m[tid]
	gen := c.gen
	c.mu.Unlock()
	if ok && time.Since(st.at) < setupTTL {
		return st, nil
	}
	var zone string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectRule+` WHERE enabled ORDER BY position, id`)
		var err error
		if st.rules, err = pgx.CollectRows(rows, scan); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT time_zone FROM tenants WHERE id = $1`, tid).Scan(&zone)
	})
	if err != nil {
		return st, err
	}
	if st.loc, err = time.LoadLocation(zone); err != nil {
		st.loc = time.UTC
	}
	st.at = time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen { // not emptied while this was read
		if c.m == nil {
			c.m = map[uuid.UUID]setup{}
		}
		c.m[tid] = st
	}
	return st, nil
}

// change runs fn, a change to the tenant's rules or time zone, and has
// every replica forget its cached setups once it commits.
func (s *Service) change(ctx context.Context, tid uuid.UUID, fn func(pgx.Tx) error) error {
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: realtime.KindRules})
	})
	s.Forget()
	return err
}
