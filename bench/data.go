package main

// Helpers shared by the benchmarks that bring their own data (sweep, lists):
// a connection as the DATABASE_URL role for bulk loading and checks, timed
// loading steps reported on stderr, the deletion of a benchmark's tenants,
// and the percentiles of repeated timings.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
)

// ownerConn connects as the DATABASE_URL role, which owns the tables (or is
// a superuser): row-level security does not bind it, so it can load and
// count rows of many tenants at once. The application's own pool
// (postgres.Open) switches to parley_app instead.
func ownerConn(ctx context.Context, databaseURL string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, postgres.ConnString(databaseURL))
}

// vacuumAnalyze leaves freshly loaded tables as autovacuum eventually would
// (statistics, visibility map, hint bits), so that it does not start in the
// middle of a measurement.
func vacuumAnalyze(ctx context.Context, conn *pgx.Conn, tables ...string) error {
	started := time.Now()
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(tables, ", ")); err != nil {
		return fmt.Errorf("vacuum analyze: %w", err)
	}
	progress("  VACUUM (ANALYZE) %s: %s", strings.Join(tables, ", "), time.Since(started).Round(time.Millisecond))
	return nil
}

// deleteTenants deletes the tenants whose name starts with prefix and every
// row of theirs, in every table with a tenant_id column: a benchmark's own
// data, before it starts (what an interrupted run left) and when it is done
// (so that the next benchmark in the same database does not meet it). It
// then vacuums those tables, so that autovacuum does not start in the next
// benchmark's measurements.
//
// The rows go table by table with foreign-key triggers off
// (session_replication_role = replica, which needs a superuser): the
// cascade from tenants would check, for each deleted case, that no case
// names it as previous_case_id — a column without an index, so each check
// scans cases, and the time grows with the square of their number (5,000
// cases took 2.5 minutes on a 2-core machine; a million would take weeks).
// Every table with a tenant_id is emptied of these tenants, so nothing is
// left dangling.
func deleteTenants(ctx context.Context, conn *pgx.Conn, prefix string) error {
	started := time.Now()
	rows, _ := conn.Query(ctx, `SELECT id FROM tenants WHERE starts_with(name, $1)`, prefix)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("find %q tenants: %w", prefix, err)
	}
	if len(ids) == 0 {
		return nil
	}
	rows, _ = conn.Query(ctx, `SELECT c.table_name FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
		ORDER BY c.table_name`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var deleted int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return fmt.Errorf("%w (deleting a benchmark's data needs a superuser DATABASE_URL)", err)
		}
		for _, t := range tables {
			tag, err := tx.Exec(ctx, `DELETE FROM `+pgx.Identifier{t}.Sanitize()+` WHERE tenant_id = ANY($1)`, ids)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", t, err)
			}
			deleted += tag.RowsAffected()
		}
		tag, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = ANY($1)`, ids)
		deleted += tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %q tenants: %w", prefix, err)
	}
	progress("  deleted %d %q tenants and their %d rows in %s", len(ids), prefix, deleted, time.Since(started).Round(time.Millisecond))
	for i, t := range tables {
		tables[i] = pgx.Identifier{t}.Sanitize()
	}
	return vacuumAnalyze(ctx, conn, append(tables, "tenants")...)
}

// timings are the durations of repeated runs of one operation.
type timings []time.Duration

// measure runs f n times, one after the other, and returns how long each took.
func measure(n int, f func() error) (timings, error) {
	t := make(timings, 0, n)
	for range n {
		started := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		t = append(t, time.Since(started))
	}
	return t, nil
}

// pct is the q-quantile (0 < q ≤ 1) by the nearest-rank method: of 20 runs,
// p50 is the 10th fastest, p95 the 19th, and pct(1) the slowest.
func (t timings) pct(q float64) time.Duration {
	if len(t) == 0 {
		return 0
	}
	s := slices.Clone(t)
	slices.Sort(s)
	i := int(math.Ceil(float64(len(s))*q)) - 1
	return s[max(0, min(i, len(s)-1))]
}

// goal says whether d is under the limit, in the report's words.
func goal(d, limit time.Duration) string {
	if d < limit {
		return "met"
	}
	return "**not met**"
}

// thousands writes n with thin separators: 1,000,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
