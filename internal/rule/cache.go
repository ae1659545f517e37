package rule

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/realtime"
)

// setup is what every rule run of a tenant reads: its enabled rules of
// each trigger in the order they run, and its time zone. Runs find it in
// this replica's cache, which every change to rules or to the time zone
// empties on every replica (see change), so that a run under load reads
// only its events' chats.
type setup struct {
	byTrigger map[string][]Rule
	loc       *time.Location
	patterns  map[string]*regexp.Regexp // the rules' regular expressions, compiled once
}

// Forget empties the cache of rule setups: rules changed, here or (told by
// a notification) on another replica.
func (s *Service) Forget() { s.cache.Forget() }

// setup returns the tenant's setup, from the cache or read afresh.
func (s *Service) setup(ctx context.Context, tid uuid.UUID) (setup, error) {
	return s.cache.Get(tid, func() (setup, bool, error) {
		var st setup
		var zone string
		err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
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
			return tx.QueryRow(ctx, `SELECT time_zone FROM tenants WHERE id = $1`, tid).Scan(&zone)
		})
		if st.loc, _ = time.LoadLocation(zone); st.loc == nil {
			st.loc = time.UTC
		}
		return st, err == nil, err
	})
}

// change runs fn, a change to the tenant's rules or time zone, and has
// every replica forget its cached setups once it commits.
func (s *Service) change(ctx context.Context, tid uuid.UUID, fn func(pgx.Tx) error) error {
	return s.cache.Change(ctx, s.db, tid, realtime.KindRules, fn)
}
