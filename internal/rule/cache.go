package rule

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
	"parley/internal/tenant"
)

// setup is what every rule run of a tenant reads: its enabled rules of
// each trigger in the order they run, and its time zone.
type setup struct {
	byTrigger map[string][]Rule
	loc       *time.Location
	patterns  map[string]*regexp.Regexp // the rules' regular expressions, compiled once
}

// Cache holds each tenant's rule setup on this replica. Every change to
// rules or to the time zone empties it on every replica (see change), so
// that a run under load reads only its events' chats, and the conversation
// tells from it which messages no rule may fire for (MayFire).
type Cache struct {
	db    *postgres.DB
	cache *realtime.Cache[uuid.UUID, setup] // by tenant
}

// NewCache returns an empty cache.
func NewCache(db *postgres.DB) *Cache {
	return &Cache{db: db, cache: realtime.NewCache[uuid.UUID, setup](time.Minute)}
}

// Forget empties the cache: rules changed, here or (told by a
// notification) on another replica.
func (c *Cache) Forget() { c.cache.Forget() }

// MayFire says whether some enabled rule of the tenant may fire for a
// client's message with this text, from the rules' text conditions alone
// (the conversation records no rule event for a message none may fire
// for). When the rules cannot be read, any may.
func (c *Cache) MayFire(ctx context.Context, tid uuid.UUID, text string) bool {
	st, err := c.get(ctx, tid)
	if err != nil {
		return true
	}
	ev := event{Event: ruleevent.Event{Trigger: ruleevent.ClientMessage}, text: text, lower: strings.ToLower(text)}
	return len(st.candidates(ev)) > 0
}

// get returns the tenant's setup, from the cache or read afresh.
func (c *Cache) get(ctx context.Context, tid uuid.UUID) (setup, error) {
	return c.cache.Get(tid, func() (setup, bool, error) {
		var st setup
		var zone string
		err := c.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, selectRule+` WHERE enabled ORDER BY position, id`)
			rules, err := pgx.CollectRows(rows, scan)
			if err != nil {
				return err
			}
			st.byTrigger, st.patterns = map[string][]Rule{}, map[string]*regexp.Regexp{}
			for _, r := range rules {
				for i, c := range r.Conditions {
					switch c.Field {
					case "text_contains", "tag": // compared in lower case
						r.Conditions[i].Value = strings.ToLower(c.Value)
					case "text_matches":
						st.patterns[c.Value], _ = regexp.Compile(c.Value) // nil if invalid: never matches
					}
				}
				st.byTrigger[r.Trigger] = append(st.byTrigger[r.Trigger], r)
			}
			zone, err = tenant.TimeZoneTx(ctx, tx)
			return err
		})
		if st.loc, _ = time.LoadLocation(zone); st.loc == nil {
			st.loc = time.UTC
		}
		return st, err == nil, err
	})
}

// change runs fn, a change to the tenant's rules or time zone, and has
// every replica forget its cached setups once it commits.
func (c *Cache) change(ctx context.Context, tid uuid.UUID, fn func(pgx.Tx) error) error {
	return c.cache.Change(ctx, c.db, tid, realtime.KindRules, fn)
}
