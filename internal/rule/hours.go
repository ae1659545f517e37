package rule

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/tenant"
)

// parseHours reads "09:00-18:00" into minutes of the day; a range that
// wraps midnight ("22:00-06:00") is allowed.
func parseHours(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	if !found {
		return 0, 0, false
	}
	minutes := func(hm string) (int, bool) {
		t, err := time.Parse("15:04", hm)
		return t.Hour()*60 + t.Minute(), err == nil
	}
	from, ok1 := minutes(a)
	to, ok2 := minutes(b)
	return from, to, ok1 && ok2 && from != to
}

func validHours(s string) bool { _, _, ok := parseHours(s); return ok }

// withinHours says whether now's wall-clock time falls in the range.
func withinHours(s string, now time.Time) bool {
	from, to, ok := parseHours(s)
	if !ok {
		return false
	}
	m := now.Hour()*60 + now.Minute()
	if from < to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

var weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekdaySet reads "mon-fri" or "sat,sun" (or a mix); nil when it cannot.
func weekdaySet(s string) map[time.Weekday]bool {
	set := map[time.Weekday]bool{}
	for _, part := range strings.Split(strings.ToLower(strings.ReplaceAll(s, " ", "")), ",") {
		a, b, isRange := strings.Cut(part, "-")
		i, j := slices.Index(weekdayNames, a), slices.Index(weekdayNames, b)
		switch {
		case i < 0 || (isRange && j < 0):
			return nil
		case !isRange:
			set[time.Weekday(i)] = true
		default:
			for d := i; ; d = (d + 1) % 7 {
				set[time.Weekday(d)] = true
				if d == j {
					break
				}
			}
		}
	}
	return set
}

// SetTimeZone changes the tenant's time zone of business hours (see
// tenant.SetTimeZoneTx), and has every replica forget its rule setups.
func (s *Service) SetTimeZone(ctx context.Context, tid uuid.UUID, zone string) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error { return tenant.SetTimeZoneTx(ctx, tx, zone) })
}
