package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
)

// Cache is a replica's copy of data that seldom changes and is read all
// the time (a webhook's integration, a tenant's rules). Every change to
// the data goes through Change, which empties the caches of every replica:
// this one at once, the others when the notification reaches their hub
// (the app wires each cache's Forget to Hub.Watch). An entry is trusted for
// at most ttl, in case a notification was missed while a hub reconnected.
// The generation keeps a read that raced with a change from caching what
// it read before the change.
type Cache[K comparable, V any] struct {
	ttl time.Duration

	mu  sync.Mutex
	gen uint64
	m   map[K]cached[V]
}

type cached[V any] struct {
	v  V
	at time.Time
}

// NewCache returns an empty cache whose entries last at most ttl.
func NewCache[K comparable, V any](ttl time.Duration) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, m: map[K]cached[V]{}}
}

// Get returns the entry for k, or load's answer, cached when load says so.
func (c *Cache[K, V]) Get(k K, load func() (v V, keep bool, err error)) (V, error) {
	c.mu.Lock()
	e, ok := c.m[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.v, nil
	}
	v, keep, err := load()
	if err != nil || !keep {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen { // not emptied while load ran
		c.m[k] = cached[V]{v: v, at: time.Now()}
	}
	return v, nil
}

// Forget empties the cache.
func (c *Cache[K, V]) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// Change runs fn, a change to data that replicas cache, in a transaction of
// the tenant that notifies kind when it commits, then empties c.
func (c *Cache[K, V]) Change(ctx context.Context, db *postgres.DB, tid uuid.UUID, kind string, fn func(pgx.Tx) error) error {
	err := db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return Notify(ctx, tx, Event{TenantID: tid, Kind: kind})
	})
	c.Forget()
	return err
}
